"""The pages of `cityq serve`, one module each; `routes(site)` lists a module's routes."""
