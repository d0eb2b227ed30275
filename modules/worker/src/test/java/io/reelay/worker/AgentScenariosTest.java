package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.protocol.Event;
import io.reelay.protocol.RequestState;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The agent's odd turns, chosen with the simulator's [sim:…] phrases, as a person following the
 * request sees them.
 */
class AgentScenariosTest {

  private static WorkerHarness h;

  @BeforeAll
  static void start() throws Exception {
    h = new WorkerHarness(Map.of(
        "nemo-sim.credits-per-token", 10000,
        "reelay.nemo.sse-heartbeat-timeout", "2s",
        "reelay.worker.recovery.first-check", "200ms",
        "reelay.worker.recovery.interval", "200ms"));
  }

  @AfterAll
  static void stop() throws Exception {
    h.close();
  }

  private List<Event> run(String text) throws Exception {
    String s = "agent-" + UUID.randomUUID();
    h.request(s, "r-" + s, "\"action\":\"generate\",\"text\":\"" + text + "\"");
    return h.eventsUntilTerminal("r-" + s);
  }

  @Test
  void aQuestionFromTheAgentReachesThePerson() throws Exception {
    Event done = last(run("make a video for my shop [sim:ask]"));
    assertThat(done.state()).isEqualTo(RequestState.COMPLETED);
    assertThat(done.message()).startsWith("The agent asks: Which aspect ratio should the video have? (Landscape 16:9 / Portrait 9:16 / Square 1:1)");
  }

  @Test
  void aTrailingTemporaryIssueAfterNormalRepliesIsIgnored() throws Exception {
    List<Event> events = run("generate a clip of a meadow [sim:temp-issue]");
    assertThat(last(events).state()).isEqualTo(RequestState.COMPLETED);
    assertThat(events).extracting(Event::message).noneMatch(m -> m.toLowerCase().contains("temporary issue"));
  }

  @Test
  void anErrorInTheStreamEndsTheRequestFailedWithoutResending() throws Exception {
    int before = h.stats().path("messages").asInt();
    Event done = last(run("generate a clip of a canyon [sim:error]"));
    assertThat(done.state()).isEqualTo(RequestState.FAILED);
    assertThat(done.error().code()).isEqualTo("STREAM_ERROR");
    assertThat(done.error().hint()).contains("not sent again");
    assertThat(h.stats().path("messages").asInt() - before).isEqualTo(1);
  }

  @Test
  void aStreamThatNeverClosesIsGivenUpAndItsResultFoundInTheState() throws Exception {
    List<Event> events = run("generate a clip of a volcano [sim:hang]");
    assertThat(events).extracting(Event::message).anyMatch(m -> m.contains("stalled"));
    assertThat(events).extracting(Event::message).anyMatch(m -> m.startsWith("The stream dropped, but the backend finished"));
    Event done = last(events);
    assertThat(done.state()).isEqualTo(RequestState.COMPLETED);
    assertThat(done.result().downloadUrl()).contains(".mp4");
  }

  private static Event last(List<Event> events) {
    return events.get(events.size() - 1);
  }
}
