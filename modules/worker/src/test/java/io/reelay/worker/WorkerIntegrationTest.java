package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.SessionSnapshot;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A worker against a real broker and the simulator: what lands on the topics is what users see. */
class WorkerIntegrationTest {

  private static WorkerHarness h;

  @BeforeAll
  static void start() throws Exception {
    h = new WorkerHarness(Map.of());
  }

  @AfterAll
  static void stop() throws Exception {
    h.close();
  }

  @Test
  void requestsOfOneSessionRunInOrderWithIncreasingSeqAndOneCompletionEach() throws Exception {
    String s = "s-" + UUID.randomUUID();
    h.request(s, "g-" + s, "\"text\":\"a city skyline at dusk\"");
    h.request(s, "e-" + s, "\"text\":\"export it please\"");
    h.request(s, "c-" + s, "\"text\":\"余额\"");

    List<Event> gen = h.eventsUntilTerminal("g-" + s);
    List<Event> exp = h.eventsUntilTerminal("e-" + s);
    List<Event> credits = h.eventsUntilTerminal("c-" + s);
    for (List<Event> perRequest : List.of(gen, exp, credits)) {
      for (int i = 1; i < perRequest.size(); i++) {
        assertThat(perRequest.get(i).seq()).isGreaterThan(perRequest.get(i - 1).seq());
      }
      assertThat(perRequest.stream().filter(Event::isTerminal)).hasSize(1);
      assertThat(last(perRequest).isTerminal()).isTrue();
    }
    assertThat(last(gen).state()).isEqualTo(RequestState.COMPLETED);
    // the agent's "click Export" is carried out by API: the generation ends with a video too
    assertThat(last(gen).result().downloadUrl()).contains(".mp4");
    assertThat(last(gen).result().timeline()).startsWith("Timeline (3 tracks)");
    assertThat(last(exp).state()).isEqualTo(RequestState.COMPLETED);
    assertThat(last(exp).result().downloadUrl()).contains(".mp4");
    assertThat(last(credits).state()).isEqualTo(RequestState.COMPLETED);
    assertThat(last(credits).result().credits()).isNotNull();
    // the export only started after the generation finished
    Event firstExportRunning = exp.stream().filter(e -> e.state() == RequestState.RUNNING).findFirst().orElseThrow();
    assertThat(firstExportRunning.at()).isAfterOrEqualTo(last(gen).at());
    // agent replies reach people without GUI instructions
    assertThat(gen).extracting(Event::message).noneMatch(m -> m != null && m.toLowerCase().contains("click"));

    List<ConsumerRecord<String, byte[]>> completions = h.readUntil(h.topics.completions(),
        list -> list.stream().filter(r -> r.key().endsWith(s)).count() >= 3);
    assertThat(completions.stream().filter(r -> r.key().endsWith(s)).map(r -> Json.read(r.value(), Event.class).requestId()))
        .containsExactlyInAnyOrder("g-" + s, "e-" + s, "c-" + s);
  }

  @Test
  void aCallbackUrlRidesOnTheCompletionRecordsHeaderNeverInTheEvent() throws Exception {
    String s = "hook-" + UUID.randomUUID();
    String url = "https://hooks.example.com/reelay?token=receiver-secret";
    h.request(s, "h-" + s, "\"action\":\"credits\",\"callbackUrl\":\"" + url + "\"");
    h.request(s, "n-" + s, "\"action\":\"credits\"");
    assertThat(last(h.eventsUntilTerminal("n-" + s)).state()).isEqualTo(RequestState.COMPLETED);
    List<ConsumerRecord<String, byte[]>> done = h.readUntil(h.topics.completions(), list -> list.stream()
        .filter(r -> r.key().endsWith(s)).count() == 2);
    ConsumerRecord<String, byte[]> hooked = done.stream().filter(r -> r.key().equals("default/h-" + s)).findFirst().orElseThrow();
    assertThat(new String(hooked.headers().lastHeader(io.reelay.protocol.Topics.CALLBACK_URL_HEADER).value(), StandardCharsets.UTF_8))
        .isEqualTo(url);
    assertThat(new String(hooked.value(), StandardCharsets.UTF_8)).doesNotContain("receiver-secret");
    ConsumerRecord<String, byte[]> plain = done.stream().filter(r -> r.key().equals("default/n-" + s)).findFirst().orElseThrow();
    assertThat(plain.headers().lastHeader(io.reelay.protocol.Topics.CALLBACK_URL_HEADER)).isNull();
  }

  @Test
  void sessionSnapshotsCarryTheTokenOnlyEncryptedAndTheFinishedRequests() throws Exception {
    String s = "snap-" + UUID.randomUUID();
    h.request(s, "c-" + s, "\"action\":\"state\"");
    assertThat(last(h.eventsUntilTerminal("c-" + s)).state()).isEqualTo(RequestState.COMPLETED);
    List<ConsumerRecord<String, byte[]>> snapshots = h.readUntil(h.topics.sessions(), list -> list.stream()
        .filter(r -> ("default/" + s).equals(r.key()))
        .anyMatch(r -> Json.read(r.value(), SessionSnapshot.class).recentRequestIds().contains("c-" + s)));
    for (ConsumerRecord<String, byte[]> r : snapshots) {
      assertThat(new String(r.value(), StandardCharsets.UTF_8)).doesNotContain("nmv_usr_");
    }
    SessionSnapshot latest = Json.read(snapshots.stream().filter(r -> ("default/" + s).equals(r.key())).reduce((a, b) -> b).orElseThrow().value(),
        SessionSnapshot.class);
    assertThat(latest.encryptedToken()).startsWith("v2:");
    assertThat(latest.backendSessionId()).matches("\\d{19}");
    assertThat(latest.clientId()).startsWith("reelay-");
    assertThat(latest.inFlight()).isNull();
  }

  @Test
  void aWorkerWithoutAStateKeyRefusesToStartOutsideDevMode() {
    WorkerSettings noKey = WorkerSettings.from(com.typesafe.config.ConfigFactory.parseMap(java.util.Map.of(
            "reelay.worker.state-key", "", "reelay.worker.dev-mode", false))
        .withFallback(com.typesafe.config.ConfigFactory.load()).resolve());
    org.assertj.core.api.Assertions.assertThatThrownBy(noKey::stateCipher)
        .hasMessageContaining("REELAY_STATE_KEY is not set").hasMessageContaining("openssl rand -base64 32");
  }

  @Test
  void runningOutOfCreditsFailsWithTheRegistrationLink() throws Exception {
    String s = "poor-" + UUID.randomUUID();
    h.request(s, "g1-" + s, "\"text\":\"generate a clip of a harbour\"");
    h.request(s, "g2-" + s, "\"text\":\"generate another clip of a harbour at night\"");
    assertThat(last(h.eventsUntilTerminal("g1-" + s)).state()).isEqualTo(RequestState.COMPLETED);
    Event failed = last(h.eventsUntilTerminal("g2-" + s));
    assertThat(failed.state()).isEqualTo(RequestState.FAILED);
    assertThat(failed.error().code()).isEqualTo("2001");
    assertThat(failed.error().retryable()).isFalse();
    assertThat(failed.error().hint()).startsWith("Register to get more credits: https://nemovideo.com/register?bind=anon_");
  }

  @Test
  void malformedRecordsGoToTheDlqWithAReasonAndDoNotBlockThePartition() throws Exception {
    String s = "bad-" + UUID.randomUUID();
    h.publish(s, "this is not json");
    h.request(s, "m-" + s, "\"action\":\"generate\"");
    h.request(s, "ok-" + s, "\"action\":\"credits\"");

    Event rejected = last(h.eventsUntilTerminal("m-" + s));
    assertThat(rejected.state()).isEqualTo(RequestState.REJECTED);
    assertThat(rejected.error().reason()).contains("text is required");
    assertThat(last(h.eventsUntilTerminal("ok-" + s)).state()).isEqualTo(RequestState.COMPLETED);

    List<ConsumerRecord<String, byte[]>> mine = h.readUntil(h.topics.dlq(),
            list -> list.stream().filter(r -> s.equals(r.key())).count() >= 2)
        .stream().filter(r -> s.equals(r.key())).toList();
    assertThat(new String(mine.get(0).value(), StandardCharsets.UTF_8)).isEqualTo("this is not json");
    assertThat(header(mine.get(0), "reelay.reason")).startsWith("not a valid request");
    assertThat(header(mine.get(0), "reelay.source.topic")).isEqualTo(h.topics.requests());
    assertThat(header(mine.get(1), "reelay.reason")).contains("text is required");
  }

  private static Event last(List<Event> events) {
    return events.get(events.size() - 1);
  }

  private static String header(ConsumerRecord<?, ?> r, String name) {
    return new String(r.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
  }
}
