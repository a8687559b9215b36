"""Config groups that belong to one stage (conf_stage/STAGE/GROUP/), on that stage's search path only."""
