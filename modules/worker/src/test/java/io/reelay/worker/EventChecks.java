package io.reelay.worker;

import io.reelay.protocol.Event;
import java.util.Collections;
import java.util.List;

/** What tests accept of one request's events across owners. */
final class EventChecks {

  private EventChecks() {}

  /**
   * {@code events} without the one repeat a worker's death may leave: a terminal event whose
   * acknowledgement the death cut off, published again by the next owner as the very same event
   * (same seq, same time), which readers drop by its seq. Any other repeated event fails.
   */
  static List<Event> withoutRepublishedTerminal(List<Event> events) {
    for (Event e : events) {
      if (!e.isTerminal() && Collections.frequency(events, e) > 1) {
        throw new AssertionError("published twice, and not a terminal event: " + e + "\nall events: " + events);
      }
    }
    return events.stream().distinct().toList();
  }
}
