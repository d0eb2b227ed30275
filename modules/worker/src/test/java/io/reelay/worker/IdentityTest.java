package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Event;
import io.reelay.protocol.RequestState;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * A session's identity against the simulator: a token is renewed before it expires (the simulator's
 * tokens live 2 s here), or after 1001 with the failed call tried once more; a lost backend session
 * (1002: it idled past the simulator's 2 s) is replaced, and the person is told the agent's history
 * went with it.
 */
class IdentityTest {

  private static final long LIFETIME_MS = 2_000;

  @Test
  void aRefusedTokenIsRenewedAndTheCallTriedAgainAndALostSessionIsReplacedAndSaidSo() throws Exception {
    try (WorkerHarness h = new WorkerHarness(Map.of("nemo-sim.session-idle-timeout", LIFETIME_MS + "ms"))) {
      String s = "id-" + UUID.randomUUID();
      assertThat(last(h, s, "st-1-" + s, "\"action\":\"state\"").state()).isEqualTo(RequestState.COMPLETED);
      // the backend revokes the token on the next call only (a seed whose first roll hits, the rest miss)
      h.faults("{\"seed\":" + seedHittingOnlyFirst(0.5, 8) + ",\"token-revoked\":0.5}");
      Thread.sleep(LIFETIME_MS + 1_000); // and the backend session runs out meanwhile
      JsonNode before = h.stats();

      List<Event> events = run(h, s, "st-2-" + s, "\"action\":\"state\"");
      Event done = events.get(events.size() - 1);
      assertThat(done.state()).as("%s", events).isEqualTo(RequestState.COMPLETED);
      assertThat(events).extracting(Event::message)
          .contains("The token expired; getting a new one")
          .anyMatch(m -> m.startsWith("The backend session was lost; starting a new one (the agent's earlier history is gone)"));
      JsonNode after = h.stats();
      assertThat(delta(before, after, "anonymous-token")).as("one new token (same client id)").isEqualTo(1);
      assertThat(delta(before, after, "session")).as("one new backend session").isEqualTo(1);
      // refused (1001); the same call with the new token (1002); once more in the new session
      assertThat(delta(before, after, "state")).isEqualTo(3);
      assertThat(after.path("faultsInjected").path("token-revoked").asLong()).isEqualTo(1);
    }
  }

  /** A seed for the simulator's dice whose first roll at {@code rate} hits and the next {@code misses} do not. */
  private static long seedHittingOnlyFirst(double rate, int misses) {
    for (long seed = 1; ; seed++) {
      java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
      boolean ok = r.nextDouble() < rate;
      for (int i = 0; ok && i < misses; i++) {
        ok = r.nextDouble() >= rate;
      }
      if (ok) {
        return seed;
      }
    }
  }

  @Test
  void aTokenAboutToExpireIsRenewedBeforeTheBackendRefusesIt() throws Exception {
    try (WorkerHarness h = new WorkerHarness(Map.of(
        "nemo-sim.token-ttl", LIFETIME_MS + "ms",
        "reelay.worker.token-refresh-before", "1h"))) { // every token here expires "soon"
      String s = "id-" + UUID.randomUUID();
      assertThat(last(h, s, "cr-1-" + s, "\"action\":\"credits\"").state()).isEqualTo(RequestState.COMPLETED);
      JsonNode before = h.stats();
      Thread.sleep(LIFETIME_MS + 1_000);
      List<Event> events = run(h, s, "cr-2-" + s, "\"action\":\"credits\"");
      assertThat(events.get(events.size() - 1).state()).isEqualTo(RequestState.COMPLETED);
      assertThat(events).extracting(Event::message).doesNotContain("The token expired; getting a new one");
      JsonNode after = h.stats();
      assertThat(delta(before, after, "anonymous-token")).as("signed in again first").isEqualTo(1);
      assertThat(delta(before, after, "credits")).as("no call refused and repeated").isEqualTo(1);
    }
  }

  private static List<Event> run(WorkerHarness h, String session, String id, String fields) throws Exception {
    h.request(session, id, fields);
    return h.eventsUntilTerminal(id);
  }

  private static Event last(WorkerHarness h, String session, String id, String fields) throws Exception {
    List<Event> events = run(h, session, id, fields);
    return events.get(events.size() - 1);
  }

  private static long delta(JsonNode before, JsonNode after, String endpoint) {
    return after.path("calls").path(endpoint).asLong() - before.path("calls").path(endpoint).asLong();
  }
}
