package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Event;
import io.reelay.protocol.RequestState;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The message's own call fails with a 5xx (a load balancer's 502, the backend's 503): the backend
 * may or may not have started it, so it is never sent again; the session looks at the state, as
 * for a dropped stream, and ends with a retry hint when nothing changed. (A 4xx refuses the
 * message outright and is reported at once; that is the 2001 row of {@code WorkerIntegrationTest}.)
 */
class UncertainDeliveryTest {

  @Test
  void aServerErrorToTheMessageIsNeverAnsweredBySendingItAgain() throws Exception {
    try (WorkerHarness h = new WorkerHarness(Map.of(
        "reelay.worker.recovery.first-check", "1s",
        "reelay.worker.recovery.interval", "1s",
        "reelay.worker.recovery.max-unchanged", 3))) {
      // a fresh session's generation calls: anonymous-token, session, state, run_sse, then the
      // state checks; the dice hit run_sse only
      h.faults("{\"seed\":" + seedHittingOnlyTheFourthCall() + ",\"server-error-5xx\":0.5}");
      JsonNode before = h.stats();
      String s = "uncertain-" + UUID.randomUUID();
      h.request(s, "g-" + s, "\"text\":\"generate a 5-second clip of a lighthouse\"");
      List<Event> events = h.eventsUntilTerminal("g-" + s);
      JsonNode after = h.stats();

      assertThat(events).extracting(Event::message)
          .anyMatch(m -> m.contains("to the message; it may have reached the agent, so it is not sent again"));
      Event done = events.get(events.size() - 1);
      assertThat(done.state()).as("%s", events).isEqualTo(RequestState.FAILED);
      assertThat(done.error().code()).isEqualTo("STREAM_LOST");
      assertThat(done.error().hint()).contains("not sent again").contains("new requestId");
      assertThat(after.path("faultsInjected").path("server-error-5xx").asLong()).isEqualTo(1);
      assertThat(after.path("calls").path("run_sse").asLong() - before.path("calls").path("run_sse").asLong())
          .as("the message's call, once").isEqualTo(1);
      assertThat(after.path("messages").asLong() - before.path("messages").asLong())
          .as("this backend answered the 5xx before the agent saw it").isZero();
      assertThat(after.path("calls").path("state").asLong() - before.path("calls").path("state").asLong())
          .as("the state before the message, then three checks").isEqualTo(4);
    }
  }

  /** A seed whose dice miss three calls, hit the fourth (then pick its 5xx), and miss the next ten. */
  private static long seedHittingOnlyTheFourthCall() {
    for (long seed = 1; ; seed++) {
      SplittableRandom r = new SplittableRandom(seed);
      boolean ok = r.nextDouble() >= 0.5 && r.nextDouble() >= 0.5 && r.nextDouble() >= 0.5 && r.nextDouble() < 0.5;
      r.nextInt(3);
      for (int i = 0; ok && i < 10; i++) {
        ok = r.nextDouble() >= 0.5;
      }
      if (ok) {
        return seed;
      }
    }
  }
}
