package io.reelay.nemo;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Json;
import org.junit.jupiter.api.Test;

class TimelineTest {

  private static JsonNode draft(String json) {
    return Json.read(json, JsonNode.class);
  }

  private static final JsonNode THREE = draft("""
      {"t":[{"tt":0,"sg":[{"start":0,"d":10000,"m":{"title":"city timelapse"}}]},
            {"tt":1,"sg":[{"start":0,"d":10000,"m":{"name":"Lo-fi","volume":0.35}}]},
            {"tt":7,"sg":[{"start":0,"d":3000,"m":{"title":"Urban Dreams"}}]}]}""");

  @Test
  void summaryReadsAsTheSeedsExample() {
    assertThat(TimelineSummary.of(THREE)).isEqualTo(
        "Timeline (3 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%) 3. Title: \"Urban Dreams\" (0-3s)");
    assertThat(TimelineSummary.of(draft("{}"))).isEqualTo("Timeline is empty");
  }

  @Test
  void diffSaysWhatWasAddedChangedOrRemoved() {
    JsonNode videoOnly = draft("{\"t\":[{\"tt\":0,\"sg\":[{\"start\":0,\"d\":10000,\"m\":{\"title\":\"city timelapse\"}}]}]}");
    JsonNode withTitle = draft("""
        {"t":[{"tt":0,"sg":[{"start":0,"d":10000,"m":{"title":"city timelapse"}}]},
              {"tt":7,"sg":[{"start":0,"d":3000,"m":{"title":"Paradise Found"}}]}]}""");
    assertThat(TimelineDiff.describe(videoOnly, withTitle, "none")).isEqualTo("Title added: \"Paradise Found\" (0-3s)");
    assertThat(TimelineDiff.describe(withTitle, THREE, "none"))
        .isEqualTo("BGM added: Lo-fi (0-10s, 35%); Title changed: \"Urban Dreams\" (0-3s)");
    assertThat(TimelineDiff.describe(THREE, videoOnly, "none")).contains("BGM removed: Lo-fi (0-10s, 35%)");
    assertThat(TimelineDiff.describe(THREE, THREE, "nothing visible changed")).isEqualTo("nothing visible changed");
  }
}
