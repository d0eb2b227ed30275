package io.reelay.sim;

import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;

/**
 * One agent turn as a script: beats played in order by {@link TurnPlayer}. Each beat waits (the agent
 * working, with heartbeats on the wire), then acts: changes the session state and/or credits and says
 * what it says. Acting at play time, not at build time, makes the state change exactly when the stream
 * says so, and keeps it changing when the client has gone away (the real backend finishes its work).
 */
record Turn(List<Beat> beats, Ending ending) {

  record Beat(Duration delay, Supplier<List<AgentEvent>> act) {}

  /** After the last beat: close the stream (ADK's only end signal), or keep it open with heartbeats only. */
  enum Ending { CLOSE, HANG }

  Turn {
    beats = List.copyOf(beats);
  }

  Turn(List<Beat> beats) {
    this(beats, Ending.CLOSE);
  }
}
