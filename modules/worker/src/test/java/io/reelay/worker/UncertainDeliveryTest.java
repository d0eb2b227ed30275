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
 * The message's own call fails with a 5xx (a load balancer's 502, the backend's 500): the backend
 * may or may not have started it, so it is not sent again at once; the session settles it from
 * evidence, the state and the credits. Both unchanged through the whole check window: the backend
 * never took it, and it is sent once more, under the same request. (Credits held or spent, or a
 * changed state, mean it was taken: {@code AgentTurnTest} and the simulator's {@code lost-answer}.
 * A 4xx refuses the message outright and is reported at once; that is the 2001 row of {@code
 * WorkerIntegrationTest}.)
 */
class UncertainDeliveryTest {

  @Test
  void aServerErrorToTheMessageIsSettledFromEvidenceAndTheMessageTheBackendNeverTookIsSentOnceMore() throws Exception {
    try (WorkerHarness h = new WorkerHarness(Map.of(
        "reelay.worker.recovery.first-check", "1s",
        "reelay.worker.recovery.interval", "1s",
        "reelay.worker.recovery.max-unchanged", 3))) {
      // a fresh session's generation calls: anonymous-token, session, state, credits, run_sse, then
      // the checks; the dice hit run_sse only, with a 500 or a 502 (a 503 is a refusal, waited out)
      h.faults("{\"seed\":" + seedHittingOnlyTheFifthCall() + ",\"server-error-5xx\":0.5}");
      JsonNode before = h.stats();
      String s = "uncertain-" + UUID.randomUUID();
      h.request(s, "g-" + s, "\"text\":\"generate a 5-second clip of a lighthouse\"");
      List<Event> events = h.eventsUntilTerminal("g-" + s);
      JsonNode after = h.stats();

      assertThat(events).extracting(Event::message)
          .anyMatch(m -> m.contains("to the message; it may have reached the agent, so it is not sent again"))
          .contains("The backend never took the message (state and credits unchanged after 3 checks); sending it once more");
      Event done = events.get(events.size() - 1);
      assertThat(done.state()).as("%s", events).isEqualTo(RequestState.COMPLETED);
      assertThat(after.path("faultsInjected").path("server-error-5xx").asLong()).isEqualTo(1);
      assertThat(after.path("calls").path("run_sse").asLong() - before.path("calls").path("run_sse").asLong())
          .as("the message's call, and once more").isEqualTo(2);
      assertThat(after.path("messages").asLong() - before.path("messages").asLong())
          .as("this backend answered the 5xx before the agent saw it: the agent heard it once").isEqualTo(1);
      assertThat(after.path("chargedTwice").asLong()).isZero();
      assertThat(after.path("calls").path("state").asLong() - before.path("calls").path("state").asLong())
          .as("the state before the message, three checks, the state after the second").isEqualTo(5);
    }
  }

  /** A seed whose dice miss four calls, hit the fifth (then pick a 500 or a 502), and miss the next sixteen. */
  private static long seedHittingOnlyTheFifthCall() {
    for (long seed = 1; ; seed++) {
      SplittableRandom r = new SplittableRandom(seed);
      boolean ok = true;
      for (int i = 0; ok && i < 4; i++) {
        ok = r.nextDouble() >= 0.5;
      }
      ok = ok && r.nextDouble() < 0.5 && r.nextInt(3) != 2;
      for (int i = 0; ok && i < 16; i++) {
        ok = r.nextDouble() >= 0.5;
      }
      if (ok) {
        return seed;
      }
    }
  }
}
