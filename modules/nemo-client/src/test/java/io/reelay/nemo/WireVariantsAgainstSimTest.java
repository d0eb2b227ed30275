package io.reelay.nemo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.reelay.nemo.Answers.AnonymousToken;
import io.reelay.nemo.Answers.BackendSession;
import io.reelay.nemo.Answers.RenderJob;
import io.reelay.sim.NemoSim;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The other documented variants of the backend: type-tagged SSE events, the top-level render-poll
 * shape ({@code status}, {@code output.url}) and business errors as non-2xx statuses with the
 * envelope. The client reads them all the same.
 */
class WireVariantsAgainstSimTest {

  private static SimFixture fixture;
  private static ActorTestKit kit;
  private static NemoSim sim;
  private static NemoClient client;

  @BeforeAll
  static void start() throws Exception {
    fixture = SimFixture.start("variants-test", Map.of(
        "nemo-sim.sse-wire-form", "typed",
        "nemo-sim.render-poll-shape", "top-level",
        "nemo-sim.errors-as-http-status", true));
    kit = fixture.kit();
    sim = fixture.sim();
    client = fixture.client();
  }

  @AfterAll
  static void stop() throws Exception {
    fixture.close();
  }

  private static <T> T await(CompletionStage<T> s) throws Exception {
    return s.toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  @Test
  void typedEventsAndTheTopLevelPollShapeReadTheSame() throws Exception {
    AnonymousToken t = await(client.anonymousToken("client-" + UUID.randomUUID()));
    BackendSession s = await(client.createSession(t.token(), "en"));
    List<AgentEvent> events = await(client.runSse(t.token(), s.sessionId(), "generate a clip of a waterfall")
        .runWith(Sink.seq(), kit.system()));
    assertThat(events).anyMatch(e -> e instanceof AgentEvent.ToolCall c && c.name().equals("generate_video_with_seedance"));
    assertThat(events).anyMatch(e -> e instanceof AgentEvent.Text x && x.text().contains("raw clip"));
    assertThat(events).contains(AgentEvent.Heartbeat.INSTANCE);

    var state = await(client.state(t.token(), s.sessionId()));
    String id = "render_" + UUID.randomUUID();
    RenderJob job = await(client.submitRender(t.token(), id, s.sessionId(), state.draft(), "mp4", "high"));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (job.isRunning()) {
      assertThat(System.nanoTime()).as("the render finished within 60 s").isLessThan(deadline);
      Thread.sleep(100);
      job = await(client.pollRender(t.token(), id));
    }
    assertThat(job.isCompleted()).isTrue();
    assertThat(job.outputUrl()).endsWith(".mp4");
  }

  @Test
  void businessErrorsAsHttpStatusesKeepTheirCode() throws Exception {
    AnonymousToken t = await(client.anonymousToken("client-" + UUID.randomUUID()));
    assertThatThrownBy(() -> await(client.state(t.token(), "1234567890123456789")))
        .cause().isInstanceOfSatisfying(NemoException.Backend.class, b -> {
          assertThat(b.backendCode()).isEqualTo(1002);
          assertThat(b.httpStatus()).isEqualTo(404);
          assertThat(FailurePolicy.remedy(b)).isEqualTo(FailurePolicy.Remedy.NEW_SESSION);
        });
  }
}
