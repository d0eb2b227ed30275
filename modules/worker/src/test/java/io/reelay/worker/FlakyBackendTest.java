package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Event;
import io.reelay.protocol.RequestState;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * A backend that pushes back (429, 503) or keeps revoking tokens costs nobody their video: the
 * session waits it out, each remedy on its own count, and says so (the simulator and a real broker).
 */
class FlakyBackendTest {

  @Test
  void rateLimitsAreWaitedOutAndTheVideoStillComes() throws Exception {
    try (WorkerHarness h = new WorkerHarness(Map.of())) {
      String s = "flaky-" + UUID.randomUUID();
      // half of all calls refused: under the old rule (one retry per call) two in a row ended the request
      h.faults("{\"seed\":11,\"rate-limit-429\":0.5}");
      h.request(s, "gen-" + s, "\"action\":\"generate\",\"text\":\"a lighthouse at dawn\"");
      List<Event> gen = h.eventsUntilTerminal("gen-" + s);
      h.request(s, "exp-" + s, "\"action\":\"export\",\"text\":\"export\"");
      List<Event> exp = h.eventsUntilTerminal("exp-" + s);
      JsonNode stats = h.stats();

      assertThat(gen.get(gen.size() - 1).state()).as("%s", gen).isEqualTo(RequestState.COMPLETED);
      Event video = exp.get(exp.size() - 1);
      assertThat(video.state()).as("%s", exp).isEqualTo(RequestState.COMPLETED);
      assertThat(video.result().downloadUrl()).isNotBlank();
      assertThat(stats.path("faultsInjected").path("rate-limit-429").asLong()).isGreaterThan(2);
      assertThat(gen).extracting(Event::message).anyMatch(m -> m.startsWith("Waiting for the backend (rate limited), retrying in "));
      assertThat(stats.path("repeatedMessages").asLong()).isZero(); // a refused message is not a repeat the agent ran
      assertThat(stats.path("chargedTwice").asLong()).isZero();
      assertThat(stats.path("duplicateRenderSubmits").asLong()).isZero();
    }
  }

  @Test
  void aTokenRevokedTwiceInOneRequestIsRenewedTwice() throws Exception {
    try (WorkerHarness h = new WorkerHarness(Map.of())) {
      String s = "revoked-" + UUID.randomUUID();
      h.request(s, "st-1-" + s, "\"action\":\"state\"");
      assertThat(h.eventsUntilTerminal("st-1-" + s)).last().extracting(Event::state).isEqualTo(RequestState.COMPLETED);
      // the next two calls that present a token are refused with 1001, the rest are not
      h.faults("{\"seed\":" + seedHittingFirst(2, 0.5, 10) + ",\"token-revoked\":0.5}");
      JsonNode before = h.stats();
      h.request(s, "st-2-" + s, "\"action\":\"state\"");
      List<Event> events = h.eventsUntilTerminal("st-2-" + s);
      JsonNode after = h.stats();

      assertThat(events.get(events.size() - 1).state()).as("%s", events).isEqualTo(RequestState.COMPLETED);
      assertThat(events).extracting(Event::message)
          .contains("The token expired; getting a new one")
          .anyMatch(m -> m.startsWith("The token expired; getting a new one (repair 2, in "));
      assertThat(after.path("calls").path("anonymous-token").asLong() - before.path("calls").path("anonymous-token").asLong())
          .isEqualTo(2);
      assertThat(after.path("faultsInjected").path("token-revoked").asLong()).isEqualTo(2);
    }
  }

  @Test
  void aLostAnswerIsSettledFromTheCreditsAndTheStateAndNeverChargedTwice() throws Exception {
    try (WorkerHarness h = new WorkerHarness(Map.of(
        "nemo-sim.credits-per-token", 1000,
        "reelay.worker.recovery.first-check", "300ms",
        "reelay.worker.recovery.interval", "300ms"))) {
      // every message is taken and run, but its answer is lost: a 502, or a stream cut before any text
      h.faults("{\"seed\":5,\"lost-answer\":1.0}");
      String s = "lost-" + UUID.randomUUID();
      for (String id : List.of("g1-" + s, "g2-" + s)) {
        h.request(s, id, "\"action\":\"edit\",\"text\":\"add a title 'Harbour' to the clip (" + id + ")\"");
        List<Event> events = h.eventsUntilTerminal(id);
        assertThat(events.get(events.size() - 1).state()).as("%s", events).isEqualTo(RequestState.COMPLETED);
        assertThat(events).extracting(Event::message).anyMatch(m -> m.startsWith("The stream dropped, but the backend finished"))
            .noneMatch(m -> m.contains("sending it once more"));
      }
      JsonNode stats = h.stats();
      assertThat(stats.path("faultsInjected").path("lost-answer").asLong()).isEqualTo(2);
      assertThat(stats.path("chargedTwice").asLong()).isZero();
      assertThat(stats.path("repeatedMessages").asLong()).isZero();
    }
  }

  /** The fault mix under which, tried by hand, 7 to 13 of 30 requests failed before (issue 12), with lost answers added. */
  private static final String MIX = "{\"seed\":42,\"rate-limit-429\":0.05,\"server-error-5xx\":0.08,\"connection-reset\":0.04,"
      + "\"token-revoked\":0.03,\"silent-edit\":0.3,\"lost-answer\":0.05}";

  @Test
  void underTheWholeFaultMixEveryRequestEndsAndEveryOneTheRulesAllowCompletesWithNothingChargedTwice() throws Exception {
    try (WorkerHarness h = new WorkerHarness(Map.of(
        "nemo-sim.credits-per-token", 100_000,
        "reelay.worker.recovery.first-check", "300ms",
        "reelay.worker.recovery.interval", "300ms"))) {
      h.faults(MIX);
      String run = UUID.randomUUID().toString().substring(0, 8);
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 15; i++) {
        String s = "mix-" + run + "-" + i;
        h.request(s, "g-" + s, "\"text\":\"generate a 5-second clip of a harbour at night, take " + i + "\"");
        h.request(s, "e-" + s, "\"action\":\"export\",\"text\":\"export\"");
        ids.add("g-" + s);
        ids.add("e-" + s);
      }
      Map<String, Event> ends = h.terminalEvents(ids);
      JsonNode stats = h.stats();

      assertThat(ends).as("every request ends").hasSize(30);
      for (Event end : ends.values()) {
        if (end.state() == RequestState.FAILED) {
          assertThat(end.error()).as("%s", end).isNotNull();
          assertThat(end.error().code()).isNotBlank();
          assertThat(end.error().reason()).isNotBlank();
          assertThat(end.error().hint()).isNotBlank();
          // the only end the rules allow short of the video: a message lost twice without the backend taking it,
          // and then the export of that session, which has nothing to export
          boolean lostTwice = end.error().code().equals("STREAM_LOST") && end.error().hint().contains("sent twice");
          boolean nothingToExport = end.error().code().equals("EMPTY_DRAFT")
              && ends.get("g-" + end.sessionKey()).state() == RequestState.FAILED;
          assertThat(lostTwice || nothingToExport).as("%s", end).isTrue();
        } else {
          assertThat(end.state()).as("%s", end).isEqualTo(RequestState.COMPLETED);
        }
      }
      assertThat(ends.values().stream().filter(e -> e.requestId().startsWith("e-") && e.state() == RequestState.COMPLETED))
          .allMatch(e -> e.result() != null && e.result().downloadUrl() != null);
      assertThat(stats.path("chargedTwice").asLong()).isZero();
      assertThat(stats.path("duplicateRenderSubmits").asLong()).isZero();
      assertThat(stats.path("faultsInjected").size()).as("%s", stats.path("faultsInjected")).isGreaterThanOrEqualTo(4);
    }
  }

  /** A seed for the simulator's dice whose first {@code hits} rolls at {@code rate} hit and the next {@code misses} do not. */
  private static long seedHittingFirst(int hits, double rate, int misses) {
    for (long seed = 1; ; seed++) {
      SplittableRandom r = new SplittableRandom(seed);
      boolean ok = true;
      for (int i = 0; ok && i < hits; i++) {
        ok = r.nextDouble() < rate;
      }
      for (int i = 0; ok && i < misses; i++) {
        ok = r.nextDouble() >= rate;
      }
      if (ok) {
        return seed;
      }
    }
  }
}
