"""One live conversation: the turn state machine, the output pacing, the wiring of the stages."""
