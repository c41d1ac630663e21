"""The live bridge: lead gestures in, ensemble gestures and touches out, over OSC and MIDI."""
