package io.reelay.sim;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class AgentTest {

  @Test
  void titlesComeFromThePrompt() {
    assertThat(Agent.titleFromPrompt("generate a 5-second clip of a fox running through a snowy forest at dusk"))
        .isEqualTo("Fox Running Through A Snowy Forest");
    assertThat(Agent.titleFromPrompt("generate an apple falling")).isEqualTo("Apple Falling");
    assertThat(Agent.titleFromPrompt("make a video about \"Urban Dreams\" in the city")).isEqualTo("Urban Dreams");
    assertThat(Agent.titleFromPrompt("!!!")).isEqualTo("Untitled");
  }

  @Test
  void clipLengthComesFromThePromptWithinOneClip() {
    assertThat(Agent.clipMillis("generate a 5-second clip")).isEqualTo(5000);
    assertThat(Agent.clipMillis("a 2.5 s video")).isEqualTo(2500);
    assertThat(Agent.clipMillis("make it 40 seconds long")).isEqualTo(15000);
    assertThat(Agent.clipMillis("a fox")).isEqualTo(5000);
  }

  @Test
  void emptyDraftsAndGenerationWordsMeanGenerate() {
    Draft withVideo = Draft.EMPTY.append(Draft.VIDEO, new Draft.Segment("s", "u", 0, 1000, java.util.Map.of()));
    assertThat(Agent.classify("add a title", Draft.EMPTY)).isEqualTo(Agent.Kind.GENERATE);
    assertThat(Agent.classify("add a title", withVideo)).isEqualTo(Agent.Kind.EDIT);
    assertThat(Agent.classify("make another clip", withVideo)).isEqualTo(Agent.Kind.GENERATE);
    assertThat(Agent.titleFromEdit("change the title to \"Winter Fox\"")).isEqualTo("Winter Fox");
    assertThat(Agent.titleFromEdit("add a title Urban Dreams")).isEqualTo("Urban Dreams");
  }
}
