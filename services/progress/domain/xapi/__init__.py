"""xAPI (1.0.3 and 2.0.0) rules, pure: statement validation, agent identifiers (IFIs), statement
formats, document merges, multipart bodies and JWS signature checks. No I/O, no Litestar."""
