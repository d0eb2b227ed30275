package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.protocol.Event;
import io.reelay.protocol.RequestState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What a session does by itself when the backend misbehaves, as its events show it. */
class SessionBehaviourTest {

  private static WorkerHarness h;
  private static Path media;

  @BeforeAll
  static void start() throws Exception {
    media = Files.createTempDirectory("reelay-media");
    h = new WorkerHarness(Map.of(
        "reelay.worker.uploads.media-dir", media.toString(),
        "nemo-sim.time-scale", 0.02,
        "nemo-sim.credits-per-token", 1000,
        "reelay.worker.recovery.first-check", "300ms",
        "reelay.worker.recovery.interval", "300ms",
        "reelay.worker.still-working-interval", "300ms"));
  }

  @AfterEach
  void healthy() throws Exception {
    h.faults("{}");
  }

  @AfterAll
  static void stop() throws Exception {
    h.close();
    try (var files = Files.walk(media)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @Test
  void aLongGenerationSaysItIsStillWorkingAndEndsWithTheTimelineAndTheVideo() throws Exception {
    String s = "long-" + UUID.randomUUID();
    h.request(s, "g-" + s, "\"text\":\"generate a 10-second clip of northern lights\"");
    List<Event> events = h.eventsUntilTerminal("g-" + s);
    assertThat(events).extracting(Event::message).contains("Still working…");
    assertThat(events).extracting(Event::message).anyMatch(m -> m.startsWith("Your raw clip is ready"));
    Event done = last(events);
    assertThat(done.state()).isEqualTo(RequestState.COMPLETED);
    assertThat(done.result().timeline()).contains("Video:").contains("BGM:").contains("Title:");
  }

  @Test
  void aSilentEditIsReportedAsWhatChanged() throws Exception {
    String s = "silent-" + UUID.randomUUID();
    h.request(s, "g-" + s, "\"text\":\"generate a 5-second clip of a beach\"");
    assertThat(last(h.eventsUntilTerminal("g-" + s)).state()).isEqualTo(RequestState.COMPLETED);
    h.faults("{\"silent-edit\":1.0}");
    h.request(s, "e-" + s, "\"action\":\"edit\",\"text\":\"change the title to 'Paradise Found'\"");
    Event done = last(h.eventsUntilTerminal("e-" + s));
    assertThat(done.state()).isEqualTo(RequestState.COMPLETED);
    assertThat(done.message()).startsWith("Title changed: \"Paradise Found\"");
  }

  @Test
  void aDroppedStreamIsNeverResentAndItsResultIsFoundByCheckingTheState() throws Exception {
    String s = "cut-" + UUID.randomUUID();
    int messagesBefore = h.stats().path("messages").asInt();
    h.faults("{\"stream-cut\":1.0}");
    h.request(s, "g-" + s, "\"text\":\"generate a 5-second clip of a glacier\"");
    List<Event> events = h.eventsUntilTerminal("g-" + s);
    assertThat(events).extracting(Event::message).anyMatch(m -> m.contains("not sent again"));
    assertThat(events).extracting(Event::message).anyMatch(m -> m.startsWith("The stream dropped, but the backend finished: Video added:"));
    // the agent's reply (which asks for an export) was lost with the stream: the request still ends with the video
    Event done = last(events);
    assertThat(done.state()).isEqualTo(RequestState.COMPLETED);
    assertThat(done.result().downloadUrl()).contains(".mp4");
    assertThat(h.stats().path("messages").asInt() - messagesBefore).isEqualTo(1);
    assertThat(h.stats().path("repeatedMessages").asInt()).isZero();
  }

  @Test
  void aRunningGenerationCanBeCancelled() throws Exception {
    String s = "cancel-" + UUID.randomUUID();
    h.request(s, "g-" + s, "\"text\":\"generate a 15-second clip of a long sunrise\"");
    h.readUntil(h.topics.events(), records -> records.stream().anyMatch(r -> WorkerHarness.requestIdOf(r).equals("g-" + s)
        && new String(r.value()).contains("GENERATING")));
    h.request(s, "x-" + s, "\"action\":\"cancel\",\"cancels\":\"g-" + s + "\"");
    assertThat(last(h.eventsUntilTerminal("g-" + s)).state()).isEqualTo(RequestState.CANCELLED);
    assertThat(last(h.eventsUntilTerminal("x-" + s)).state()).isEqualTo(RequestState.COMPLETED);
  }

  @Test
  void aUrlUploadEndsWithTheMediaTheBackendHolds() throws Exception {
    String s = "up-" + UUID.randomUUID();
    h.request(s, "u-" + s, "\"text\":\"upload my clip\",\"upload\":{\"url\":\"https://cdn.example.com/clips/beach.mp4\"}");
    Event done = last(h.eventsUntilTerminal("u-" + s));
    assertThat(done.state()).isEqualTo(RequestState.COMPLETED);
    assertThat(done.result().media()).singleElement().satisfies(m -> {
      assertThat(m.fileName()).isEqualTo("beach.mp4");
      assertThat(m.fileType()).isEqualTo("video");
    });
  }

  @Test
  void anUploadOutsideTheMediaDirectoryIsRefusedBeforeAnythingIsSent() throws Exception {
    String s = "up-" + UUID.randomUUID();
    int uploads = h.stats().path("calls").path("upload").asInt();
    int tokens = h.stats().path("calls").path("anonymous-token").asInt();
    h.request(s, "u-" + s, "\"action\":\"upload\",\"upload\":{\"path\":\"../../etc/passwd.mp4\"}");
    Event done = last(h.eventsUntilTerminal("u-" + s));
    assertThat(done.state()).isEqualTo(RequestState.REJECTED);
    assertThat(done.error().code()).isEqualTo("PATH_OUTSIDE_MEDIA_DIR");
    assertThat(done.error().hint()).isNotBlank();
    assertThat(h.stats().path("calls").path("upload").asInt()).isEqualTo(uploads);
    // refused before the session signs in: not even a token was asked for
    assertThat(h.stats().path("calls").path("anonymous-token").asInt()).isEqualTo(tokens);
  }

  @Test
  void aLocalFileGoesFromTheTenantsOwnDirectoryAndNeverFromAnothers() throws Exception {
    Files.write(Files.createDirectories(media.resolve("acme")).resolve("beach.mp4"), new byte[4096]);
    Files.write(Files.createDirectories(media.resolve("globex")).resolve("secret.mp4"), new byte[4096]);
    String s = "up-" + UUID.randomUUID();
    h.request(s, "u-" + s, "\"tenant\":\"acme\",\"action\":\"upload\",\"upload\":{\"path\":\"beach.mp4\"}");
    Event done = last(h.eventsUntilTerminal("u-" + s));
    assertThat(done.state()).as("%s", done).isEqualTo(RequestState.COMPLETED);
    assertThat(done.result().media()).singleElement().satisfies(m -> assertThat(m.fileName()).isEqualTo("beach.mp4"));

    int uploads = h.stats().path("calls").path("upload").asInt();
    for (String path : new String[] {"secret.mp4", "../globex/secret.mp4"}) {
      String id = "u-" + UUID.randomUUID();
      h.request(s, id, "\"tenant\":\"acme\",\"action\":\"upload\",\"upload\":{\"path\":\"" + path + "\"}");
      Event refused = last(h.eventsUntilTerminal(id));
      assertThat(refused.state()).isEqualTo(RequestState.REJECTED);
      assertThat(refused.error().code()).isIn("NOT_FOUND", "PATH_OUTSIDE_MEDIA_DIR");
      assertThat(refused.error().reason() + refused.error().hint()).doesNotContain(media.toString());
    }
    assertThat(h.stats().path("calls").path("upload").asInt()).isEqualTo(uploads);
  }

  private static Event last(List<Event> events) {
    return events.get(events.size() - 1);
  }
}
