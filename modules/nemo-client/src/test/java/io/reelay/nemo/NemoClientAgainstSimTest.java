package io.reelay.nemo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.reelay.nemo.Answers.AnonymousToken;
import io.reelay.nemo.Answers.BackendSession;
import io.reelay.nemo.Answers.RenderJob;
import io.reelay.nemo.Answers.SessionState;
import io.reelay.sim.Mp4Probe;
import io.reelay.sim.NemoSim;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client against the simulator, endpoint by endpoint, on the happy path and its documented errors. */
class NemoClientAgainstSimTest {

  private static SimFixture fixture;
  private static ActorTestKit kit;
  private static NemoSim sim;
  private static NemoClient client;

  @BeforeAll
  static void start() throws Exception {
    fixture = SimFixture.start("nemo-client-test", Map.of());
    kit = fixture.kit();
    sim = fixture.sim();
    client = fixture.client();
  }

  @AfterAll
  static void stop() throws Exception {
    fixture.close();
  }

  private static <T> T await(java.util.concurrent.CompletionStage<T> s) throws Exception {
    return s.toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  @Test
  void generateThenRenderThenDownloadAPlayableMp4(@TempDir Path dir) throws Exception {
    AnonymousToken t = await(client.anonymousToken("client-" + UUID.randomUUID()));
    assertThat(t.token().reveal()).startsWith("nmv_usr_");
    assertThat(t.token().toString()).doesNotContain("nmv_usr_");
    assertThat(t.credits()).isEqualTo(100);
    BackendSession s = await(client.createSession(t.token(), "en"));
    assertThat(s.sessionId()).matches("\\d{19}");

    List<AgentEvent> events = await(client.runSse(t.token(), s.sessionId(), "generate a 5-second clip of a fox at dusk")
        .runWith(Sink.seq(), kit.system()));
    assertThat(events).anyMatch(e -> e instanceof AgentEvent.ToolCall);
    assertThat(events).anyMatch(e -> e instanceof AgentEvent.Text x && !x.partial());

    SessionState state = await(client.state(t.token(), s.sessionId()));
    assertThat(state.hasExportableDraft()).isTrue();
    assertThat(TimelineSummary.of(state.draft())).startsWith("Timeline (").contains("Video:");

    String renderId = "render_" + UUID.randomUUID();
    RenderJob submitted = await(client.submitRender(t.token(), renderId, s.sessionId(), state.draft(), "mp4", "high"));
    assertThat(submitted.isRunning()).isTrue();
    RenderJob job = submitted;
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (job.isRunning() && System.nanoTime() < deadline) {
      Thread.sleep(100);
      job = await(client.pollRender(t.token(), renderId));
    }
    assertThat(job.isCompleted()).as("render finished: %s", job).isTrue();
    assertThat(job.outputUrl()).isNotBlank();

    Path viaUrl = await(client.download(job.outputUrl(), Optional.empty(), dir.resolve("a.mp4")));
    Path viaFallback = await(client.download(client.fallbackDownloadUrl(renderId), Optional.of(t.token()), dir.resolve("b.mp4")));
    assertThat(Mp4Probe.probe(viaUrl).durationSeconds()).isGreaterThan(1.0);
    assertThat(Mp4Probe.probe(viaFallback).durationSeconds()).isEqualTo(Mp4Probe.probe(viaUrl).durationSeconds());

    Answers.Credits credits = await(client.credits(t.token()));
    assertThat(credits.total()).isEqualTo(credits.available() + credits.frozen());
    assertThat(credits.available()).isLessThan(100);
  }

  @Test
  void aFileIsUploadedFromItsOpenChannelWhichIsClosedWhenTheCallEnds(@TempDir Path dir) throws Exception {
    AnonymousToken t = await(client.anonymousToken("client-" + UUID.randomUUID()));
    BackendSession s = await(client.createSession(t.token(), "en"));
    byte[] clip = new byte[100_000];
    new java.util.Random(7).nextBytes(clip);
    Path file = Files.write(dir.resolve("clip.mp4"), clip);
    FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
    // the path names another file by the time the upload runs: what goes is what was opened
    Files.move(Files.writeString(dir.resolve("swapped.mp4"), "swapped in"), file, StandardCopyOption.REPLACE_EXISTING);
    List<NemoClient.UploadedFile> sent = await(client.uploadFiles(t.token(), s.sessionId(),
        List.of(new NemoClient.LocalFile("clip.mp4", ContentTypes.parse("video/mp4"), clip.length, channel))));
    assertThat(sent).singleElement().satisfies(f -> assertThat(f.filename()).isEqualTo("clip.mp4"));
    assertThat(channel.isOpen()).isFalse();
    Path back = await(client.download(sent.get(0).cdnUrl(), Optional.empty(), dir.resolve("back.mp4")));
    assertThat(Files.readAllBytes(back)).isEqualTo(clip);

    // refused by the backend (unknown session): closed as well
    FileChannel refused = FileChannel.open(dir.resolve("back.mp4"), StandardOpenOption.READ);
    assertThatThrownBy(() -> await(client.uploadFiles(t.token(), "1234567890123456789",
        List.of(new NemoClient.LocalFile("clip.mp4", ContentTypes.parse("video/mp4"), clip.length, refused)))))
        .cause().isInstanceOf(NemoException.Backend.class);
    assertThat(refused.isOpen()).isFalse();
  }

  @Test
  void anUnknownSessionIs1002AndNoTokenLeaksIntoTheError() throws Exception {
    AnonymousToken t = await(client.anonymousToken("client-" + UUID.randomUUID()));
    assertThatThrownBy(() -> await(client.state(t.token(), "1234567890123456789")))
        .cause()
        .isInstanceOfSatisfying(NemoException.Backend.class, b -> assertThat(b.backendCode()).isEqualTo(1002))
        .hasMessageNotContaining(t.token().reveal());
    assertThatThrownBy(() -> await(client.runSse(t.token(), "1234567890123456789", "hello").runWith(Sink.seq(), kit.system())))
        .cause()
        .isInstanceOfSatisfying(NemoException.Backend.class, b -> assertThat(b.backendCode()).isEqualTo(1002));
  }

  @Test
  void cancellingAStreamClosesItsConnection() throws Exception {
    AnonymousToken t = await(client.anonymousToken("client-" + UUID.randomUUID()));
    BackendSession s = await(client.createSession(t.token(), "en"));
    // a stream that never ends by itself ([sim:hang]: the turn plays out, then heartbeats forever):
    // take its first event, then cancel; only the cancel can make the simulator see it end
    await(client.runSse(t.token(), s.sessionId(), "[sim:hang] [sim:text] hello")
        .take(1).runWith(Sink.seq(), kit.system()));
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    int active;
    do {
      Thread.sleep(50);
      active = SimAdmin.stats(sim).path("activeStreams").asInt();
    } while (active > 0 && System.nanoTime() < deadline);
    assertThat(active).isZero();
  }

  @Test
  void aBadTokenIs1001() {
    assertThatThrownBy(() -> await(client.credits(Token.of("nmv_usr_not-a-real-token"))))
        .cause()
        .isInstanceOfSatisfying(NemoException.Backend.class, b -> assertThat(b.backendCode()).isEqualTo(1001))
        .hasMessageNotContaining("not-a-real-token");
  }
}
