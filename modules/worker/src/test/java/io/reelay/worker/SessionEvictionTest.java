package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.RequestState;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * An idle session leaves the worker's heap once its snapshot is on the sessions topic, and comes
 * back from there: its next request runs with the identity it had (no new sign-in), and a request
 * it finished, delivered again, is still recognised and not run twice.
 */
class SessionEvictionTest {

  @Test
  void anIdleSessionLeavesTheHeapAndItsNextRequestReadsItsSnapshotBack() throws Exception {
    try (WorkerHarness h = new WorkerHarness(Map.of("reelay.worker.session-idle-timeout", "300ms"))) {
      String s = "ev-" + UUID.randomUUID();
      assertThat(last(h, s, "st-1-" + s, "\"action\":\"state\"").state()).isEqualTo(RequestState.COMPLETED);
      awaitGauge(h, "reelay_worker_sessions_resident", 0);
      assertThat(gauge(h, "reelay_worker_sessions_indexed")).as("its snapshot's place is all that stays").isEqualTo(1);
      JsonNode before = h.stats();

      assertThat(last(h, s, "st-2-" + s, "\"action\":\"state\"").state()).isEqualTo(RequestState.COMPLETED);
      awaitGauge(h, "reelay_worker_sessions_resident", 0);
      // delivered again after it left the heap (a producer's retry): known from the snapshot read back
      h.request(s, "st-1-" + s, "\"action\":\"state\"");
      assertThat(last(h, s, "cr-3-" + s, "\"action\":\"credits\"").state()).isEqualTo(RequestState.COMPLETED);
      JsonNode after = h.stats();

      assertThat(delta(before, after, "anonymous-token")).as("the identity came back with the snapshot: no new sign-in").isZero();
      assertThat(delta(before, after, "session")).as("nor a new backend session").isZero();
      assertThat(delta(before, after, "state")).as("st-2 only: st-1 is not run twice").isEqualTo(1);
      assertThat(delta(before, after, "credits")).isEqualTo(1);
      long ends = h.readAll(h.topics.events()).stream()
          .filter(r -> ("st-1-" + s).equals(WorkerHarness.requestIdOf(r)))
          .map(r -> Json.read(r.value(), Event.class)).filter(Event::isTerminal).count();
      assertThat(ends).as("one terminal event for st-1").isEqualTo(1);
    }
  }

  private static double gauge(WorkerHarness h, String name) {
    return WorkerMetrics.registry(h.kit.system()).find(name).gauge().value();
  }

  private static void awaitGauge(WorkerHarness h, String name, double value) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (gauge(h, name) != value) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(name + " is " + gauge(h, name) + ", not " + value + ", after 30 s");
      }
      Thread.sleep(50);
    }
  }

  private static Event last(WorkerHarness h, String session, String id, String fields) throws Exception {
    h.request(session, id, fields);
    List<Event> events = h.eventsUntilTerminal(id);
    return events.get(events.size() - 1);
  }

  private static long delta(JsonNode before, JsonNode after, String endpoint) {
    return after.path("calls").path(endpoint).asLong() - before.path("calls").path(endpoint).asLong();
  }
}
