package io.reelay.nemo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.reelay.protocol.Json;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class SseDecodeTest {

  private static final ActorSystem system = ActorSystem.create("sse-decode-test");

  @AfterAll
  static void stop() {
    system.terminate();
  }

  private static List<AgentEvent> decode(Duration stall, String... chunks) throws Exception {
    return Source.from(List.of(chunks))
        .map(ByteString::fromString)
        .via(NemoClient.decode(1 << 20, stall))
        .runWith(Sink.seq(), system)
        .toCompletableFuture()
        .get(10, TimeUnit.SECONDS);
  }

  private static List<AgentEvent> decode(String... chunks) throws Exception {
    return decode(Duration.ofMinutes(10), chunks);
  }

  @Test
  void adkEventsBecomeToolCallsHeartbeatsAndText() throws Exception {
    List<AgentEvent> events =
        decode(
            "data: {\"content\":{\"parts\":[{\"functionCall\":{\"id\":\"af-1\",\"name\":\"generate_video_with_seedance\",\"args\":{\"prompt\":\"a fox\",\"duration\":5}}}],\"role\":\"model\"},\"author\":\"nemo\",\"actions\":{\"stateDelta\":{}}}\n\n",
            ": ping\n\n",
            "data:\n\n",
            "data: {\"content\":{\"parts\":[{\"functionResponse\":{\"id\":\"af-1\",\"name\":\"generate_video_with_seedance\",\"response\":{}}}],\"role\":\"user\"},\"author\":\"nemo\"}\n\n",
            "data: {\"content\":{\"parts\":[{\"text\":\"thinking...\",\"thought\":true},{\"text\":\"Your clip is ready.\"}],\"role\":\"model\"},\"author\":\"nemo\",\"newField\":1}\n\n");
    assertThat(events)
        .containsExactly(
            new AgentEvent.ToolCall("generate_video_with_seedance", Json.mapper().createObjectNode().put("prompt", "a fox").put("duration", 5)),
            AgentEvent.Heartbeat.INSTANCE,
            AgentEvent.Heartbeat.INSTANCE,
            new AgentEvent.ToolResult("generate_video_with_seedance"),
            new AgentEvent.Text("Your clip is ready.", false, "nemo"));
  }

  @Test
  void partialDeltasAreReplacedByTheFinalText() throws Exception {
    List<AgentEvent> events =
        decode(
            "data: {\"partial\":true,\"author\":\"a\",\"content\":{\"parts\":[{\"text\":\"Hel\"}]}}\n\n",
            "data: {\"partial\":true,\"author\":\"a\",\"content\":{\"parts\":[{\"text\":\"lo\"}]}}\n\n",
            "data: {\"author\":\"a\",\"content\":{\"parts\":[{\"text\":\"Hello\"}]}}\n\n");
    assertThat(events.stream().filter(e -> e instanceof AgentEvent.Text t && !t.partial()))
        .containsExactly(new AgentEvent.Text("Hello", false, "a"));
  }

  @Test
  void typedFormAndALastEventWithoutBlankLine() throws Exception {
    List<AgentEvent> events =
        decode(
            "data: {\"type\":\"tool_call\",\"name\":\"edit_multitrack\",\"args\":{}}\r\n\r\n",
            "data: {\"type\":\"heartbeat\"}\n\n",
            "data: {\"type\":\"text\",\"content\":\"Title added\"}");
    assertThat(events).hasSize(3);
    assertThat(events.get(2)).isEqualTo(new AgentEvent.Text("Title added", false, null));
  }

  @Test
  void chunksSplitMidLineAndMultiLineDataAreJoined() throws Exception {
    List<AgentEvent> events =
        decode("data: {\"type\":\"text\",", "\"content\":\"a\\nb\"}\n", "\n", "data: [DONE]\n\n", "data: {\"type\":\"text\",\"content\":\"after done\"}\n\n");
    assertThat(events).containsExactly(new AgentEvent.Text("a\nb", false, null));
  }

  @Test
  void eventsFarLargerThanPekkoHttpsSseLimitsAreAccepted() throws Exception {
    String big = "x".repeat(200_000);
    List<AgentEvent> events = decode(
        "data: {\"type\":\"text\",\"content\":\"" + big.substring(0, 100_000), big.substring(100_000) + "\"}\n\n");
    assertThat(events).containsExactly(new AgentEvent.Text(big, false, null));
  }

  @Test
  void anErrorPayloadFailsTheStreamWithoutLeakingIt() {
    assertThatThrownBy(() -> decode("data: {\"error\":\"boom with nmv_usr_SECRET123\"}\n\n"))
        .hasCauseInstanceOf(NemoException.Stream.class)
        .hasMessageContaining("boom")
        .hasMessageNotContaining("SECRET123");
  }

  @Test
  void onlyHeartbeatsForTooLongFailsAsStalled() {
    Source<ByteString, ?> heartbeats =
        Source.tick(Duration.ZERO, Duration.ofMillis(20), ByteString.fromString(": ping\n\n"));
    assertThatThrownBy(
            () ->
                heartbeats
                    .via(NemoClient.decode(4096, Duration.ofMillis(300)))
                    .runWith(Sink.ignore(), system)
                    .toCompletableFuture()
                    .get(10, TimeUnit.SECONDS))
        .hasCauseInstanceOf(NemoException.Stream.class)
        .hasMessageContaining("SSE_STALLED");
  }
}
