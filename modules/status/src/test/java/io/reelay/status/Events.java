package io.reelay.status;

import io.reelay.protocol.Event;
import io.reelay.protocol.Phase;
import io.reelay.protocol.RequestState;
import java.time.Instant;

/** Test events. */
final class Events {
  private Events() {}

  static Event event(String requestId, String session, String tenant, long seq, RequestState state) {
    Phase phase = state == RequestState.RUNNING ? Phase.GENERATING : state.isTerminal() ? Phase.DONE : Phase.QUEUED;
    return new Event(
        Event.VERSION, requestId, session, tenant, seq, Instant.parse("2030-01-01T00:00:00Z").plusSeconds(seq),
        state, phase, "step " + seq, state.isTerminal() ? 1.0 : seq / 10.0, null, null);
  }
}
