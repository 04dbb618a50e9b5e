"""Programs as data: YAML definitions, the rule evaluator and eligibility, beneficiary and budget outputs."""
