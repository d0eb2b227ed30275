package io.reelay.sim;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The /run_sse scenarios of nemo-api.md §5.4, chosen deterministically by the README's magic phrases. */
class ScenarioPhrasesTest {

  private static final String PROMPT = "generate a 2-second clip of a lighthouse";
  private static SimFixture f;
  private static SimHttp http;

  @BeforeAll
  static void start() throws Exception {
    f = SimFixture.start("scenario-phrases", Map.of("credits-per-token", 10_000));
    http = f.http;
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  private record Setup(String token, String sid) {}

  private static Setup setup() throws Exception {
    String token = f.token();
    return new Setup(token, http.session(token));
  }

  @Test
  void questionsGetAPlainTextReplyAndChangeNothing() throws Exception {
    Setup s = setup();
    for (String q : List.of("what can you do?", "[sim:text] make it pop")) {
      SimHttp.SseReply r = http.runSse(s.token(), s.sid(), q, e -> { });
      assertThat(r.functionCalls()).as(q).isEmpty();
      assertThat(r.texts()).as(q).singleElement().asString().contains("I can generate");
    }
    assertThat(f.state(s.token(), s.sid()).path("draft").isEmpty()).isTrue();
    assertThat(http.credits(s.token()).data().path("available").asInt()).isEqualTo(10_000);
    // "can you add music?" is a question but also an edit: not a text turn
    assertThat(Agent.classify("can you add music?", Draft.EMPTY.append(Draft.VIDEO,
        new Draft.Segment("s", null, 0, 1000, Map.of())))).isEqualTo(Agent.Kind.EDIT);
  }

  @Test
  void askPhraseGivesALongRunningAskQuestionCall() throws Exception {
    Setup s = setup();
    SimHttp.SseReply r = http.runSse(s.token(), s.sid(), "[sim:ask] a video for my shop", e -> { });
    assertThat(r.functionCalls()).containsExactly("ask_question");
    JsonNode event = r.events().get(0);
    JsonNode call = event.path("content").path("parts").get(0).path("functionCall");
    assertThat(event.path("longRunningToolIds")).extracting(JsonNode::asText).containsExactly(call.path("id").asText());
    JsonNode q = call.path("args").path("questions").get(0);
    assertThat(q.has("id") && q.has("prompt") && q.has("allow_multiple")).isTrue();
    assertThat(q.path("options").get(0).has("label")).isTrue();
  }

  @Test
  void twoStageGenerationReportsTheRawClipThenTheFinalTracks() throws Exception {
    Setup s = setup();
    AtomicReference<JsonNode> stateAfterRawClip = new AtomicReference<>();
    SimHttp.SseReply r = http.runSse(s.token(), s.sid(), PROMPT, e -> {
      String text = e.path("content").path("parts").path(0).path("text").asText("");
      if (text.contains("raw clip is ready")) {
        try {
          stateAfterRawClip.set(f.state(s.token(), s.sid()));
        } catch (Exception ex) {
          throw new IllegalStateException(ex);
        }
      }
    });
    assertThat(stateAfterRawClip.get().path("draft").path("t")).hasSize(1);
    assertThat(r.functionCalls()).containsExactly("generate_video_with_seedance", "add_background_music", "add_title");
    assertThat(r.texts().get(1)).contains("Timeline (3 tracks)").contains("click the Export button");
    assertThat(f.state(s.token(), s.sid()).path("draft").path("t")).hasSize(3);
  }

  @Test
  void tempIssueErrorAndCrashPhrases() throws Exception {
    Setup s = setup();
    SimHttp.SseReply temp = http.runSse(s.token(), s.sid(), "[sim:temp-issue] " + PROMPT, e -> { });
    assertThat(temp.texts().get(temp.texts().size() - 1)).startsWith("I encountered a temporary issue");
    assertThat(temp.texts().get(temp.texts().size() - 2)).contains("Timeline (3 tracks)");

    SimHttp.SseReply error = http.runSse(s.token(), s.sid(), "[sim:error] " + PROMPT, e -> { });
    assertThat(error.errors()).hasSize(1);
    assertThat(error.lines()).anyMatch(l -> l.startsWith("data: {\"error\":"));
    assertThat(http.credits(s.token()).data().path("frozen").asInt()).isZero();

    SimHttp.SseReply crash = http.runSse(s.token(), s.sid(), "[sim:crash] change the title to \"Boom\"", e -> { });
    assertThat(crash.errors()).hasSize(1);
    assertThat(http.credits(s.token()).data().path("frozen").asInt()).isEqualTo(50);
  }

  @Test
  void hangPhrasePlaysTheTurnThenHeartbeatsForever() throws Exception {
    Setup s = setup();
    SimHttp.SseReply r = http.runSse(s.token(), s.sid(), "[sim:hang] " + PROMPT, Map.of(), Duration.ofMillis(1500), e -> { });
    assertThat(r.stillOpen()).isTrue();
    assertThat(r.texts()).hasSize(2);
    int lastEvent = -1;
    for (int i = 0; i < r.lines().size(); i++) if (r.lines().get(i).startsWith("data: {")) lastEvent = i;
    assertThat(r.lines().subList(lastEvent + 1, r.lines().size()).stream().filter(l -> !l.isEmpty()).count())
        .as("heartbeats after the last event").isGreaterThan(3);
    Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(f.stats().path("activeStreams").asLong()).isZero());
  }

  @Test
  void silentTalkCutAndGuiPhrases() throws Exception {
    Setup s = setup();
    http.runSse(s.token(), s.sid(), PROMPT, e -> { });
    SimHttp.SseReply silent = http.runSse(s.token(), s.sid(), "[sim:silent] add background music", e -> { });
    assertThat(silent.functionCalls()).containsExactly("edit_multitrack");
    assertThat(silent.texts()).isEmpty();

    SimHttp.SseReply talk = http.runSse(s.token(), s.sid(), "[sim:talk] [sim:gui] add a subtitle hello", e -> { });
    assertThat(talk.texts()).singleElement().asString()
        .contains("click the Export button", "Open the panel", "Drag it onto the timeline", "Preview in timeline", "点击导出");

    List<JsonNode> seen = new ArrayList<>();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> http.runSse(s.token(), s.sid(), "[sim:cut] " + PROMPT, seen::add))
        .isInstanceOf(java.io.IOException.class);
  }

  @Test
  void chineseSessionsGetChineseGuiPhrases() throws Exception {
    String token = f.token();
    String sid = http.post("/api/tasks/me/with-session/nemo_agent", token, Map.of("task_name", "project", "language", "zh-CN"))
        .data().path("session_id").asText();
    SimHttp.SseReply r = http.runSse(token, sid, "生成一个5秒的海边日落视频", e -> { });
    assertThat(r.texts().get(r.texts().size() - 1)).contains("点击导出");
  }

  @Test
  void streamingTrueSendsPartialDeltasThenTheFullText() throws Exception {
    Setup s = setup();
    SimHttp.SseReply r = http.runSse(s.token(), s.sid(), "what can you do?", Map.of("streaming", true), Duration.ofSeconds(30), e -> { });
    assertThat(r.partialTexts()).hasSizeGreaterThan(1);
    assertThat(String.join("", r.partialTexts())).isEqualTo(r.texts().get(0));
    JsonNode last = r.events().get(r.events().size() - 1);
    assertThat(last.has("partial")).as("the final event is not partial").isFalse();
    // without streaming:true there are no partials; [sim:stream] forces them
    assertThat(http.runSse(s.token(), s.sid(), "what can you do?", e -> { }).partialTexts()).isEmpty();
    assertThat(http.runSse(s.token(), s.sid(), "[sim:stream] what can you do?", e -> { }).partialTexts()).isNotEmpty();
  }

  @Test
  void allThreeHeartbeatFormsAndTheTypedWireForm() throws Exception {
    try (SimFixture typed = SimFixture.start("typed-wire", Map.of("sse-wire-form", "typed", "credits-per-token", 1000,
        "heartbeat-forms", List.of("comment", "empty-data", "json")))) {
      String token = typed.token();
      String sid = typed.http.session(token);
      SimHttp.SseReply r = typed.http.runSse(token, sid, "[sim:error] [sim:stream] " + PROMPT, e -> { });
      assertThat(r.lines()).contains(": ping", "data:", "data: {\"type\":\"heartbeat\"}");
      assertThat(r.events()).extracting(e -> e.path("type").asText()).contains("tool_call", "tool_result", "text", "error");
      assertThat(r.events()).anyMatch(e -> e.path("partial").asBoolean(false));
      JsonNode call = r.events().get(0);
      assertThat(call.path("name").asText()).isEqualTo("generate_video_with_seedance");
      assertThat(call.path("args").isObject()).isTrue();
    }
  }
}
