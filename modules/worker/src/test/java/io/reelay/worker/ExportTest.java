package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Event;
import io.reelay.protocol.RequestState;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The export flow's refusals against the simulator: an empty draft, a render that fails. */
class ExportTest {

  @Test
  void exportingAnEmptySessionSaysToGenerateFirstAndSubmitsNothing() throws Exception {
    try (WorkerHarness h = new WorkerHarness(Map.of())) {
      JsonNode before = h.stats();
      String s = "empty-" + UUID.randomUUID();
      h.request(s, "x-" + s, "\"action\":\"export\"");
      List<Event> events = h.eventsUntilTerminal("x-" + s);
      Event done = events.get(events.size() - 1);
      assertThat(done.state()).isEqualTo(RequestState.FAILED);
      assertThat(done.error().code()).isEqualTo("EMPTY_DRAFT");
      assertThat(done.error().hint()).contains("Generate a video in this session first");
      assertThat(h.stats().path("renderSubmits").asLong()).isEqualTo(before.path("renderSubmits").asLong());
    }
  }

  @Test
  void aFailedRenderIsTriedOnceMoreUnderANewIdThenReported() throws Exception {
    try (WorkerHarness h = new WorkerHarness(Map.of())) {
      h.faults("{\"render-failed\":1.0}");
      JsonNode before = h.stats();
      String s = "fails-" + UUID.randomUUID();
      // the agent asks for an export after the generation: the worker renders, and every render fails
      h.request(s, "g-" + s, "\"text\":\"generate a 5-second clip of a lighthouse [sim:no-fault]\"");
      List<Event> events = h.eventsUntilTerminal("g-" + s);
      Event done = events.get(events.size() - 1);
      assertThat(events).extracting(Event::message).contains("The render failed; trying once more under a new id");
      assertThat(done.state()).as("%s", events).isEqualTo(RequestState.FAILED);
      assertThat(done.error().code()).isEqualTo("RENDER_FAILED");
      assertThat(done.error().retryable()).isTrue();
      assertThat(done.error().hint()).isNotBlank();
      JsonNode after = h.stats();
      assertThat(after.path("renderSubmits").asLong() - before.path("renderSubmits").asLong()).as("two ids, one submit each").isEqualTo(2);
      assertThat(after.path("duplicateRenderSubmits").asLong()).isZero();
    }
  }
}
