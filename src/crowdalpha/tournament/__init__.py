"""crowdalpha.tournament: the operator's domain, one module per concept; where each rule lives is
in docs/architecture.md ("Where each domain rule lives")."""
