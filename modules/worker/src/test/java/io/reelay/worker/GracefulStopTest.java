package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.protocol.Event;
import io.reelay.protocol.RequestState;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A graceful stop (SIGTERM, a rolling deploy) lets the request in hand finish first: a question
 * whose answer is still streaming is answered by this worker, not cut and left to the next owner
 * (the simulator and a real broker; the agent's text reply takes about 2 s here).
 */
class GracefulStopTest {

  @Test
  void aStopLetsTheOpenStreamFinishAndTheRequestEndsHere() throws Exception {
    try (WorkerHarness h = new WorkerHarness(Map.of(
        "reelay.worker.stop-grace", "15s",
        "nemo-sim.timing.text-min", "400s",
        "nemo-sim.timing.text-max", "400s"))) {
      String s = "stop-" + UUID.randomUUID();
      String id = "q-" + s;
      h.request(s, id, "\"text\":\"what can you do? [sim:text]\"");
      // the message is out and its answer streaming
      h.readUntil(h.topics.events(), records -> records.stream().anyMatch(r -> id.equals(WorkerHarness.requestIdOf(r))
          && new String(r.value()).contains("Asking the agent")));

      h.worker.stop().toCompletableFuture().get(60, TimeUnit.SECONDS);

      List<Event> events = h.eventsUntilTerminal(id);
      Event end = events.get(events.size() - 1);
      assertThat(end.state()).as("%s", events).isEqualTo(RequestState.COMPLETED);
      assertThat(events).extracting(Event::message).noneMatch(m -> m.contains("not sent again"));
      assertThat(h.stats().path("messages").asLong()).isEqualTo(1);
    }
  }
}
