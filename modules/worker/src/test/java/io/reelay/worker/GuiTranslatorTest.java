package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class GuiTranslatorTest {

  @Test
  void guiInstructionsBecomeActions() {
    assertThat(GuiTranslator.actions("Done! Preview it in the timeline, then click Export to download your video."))
        .containsExactly(GuiTranslator.GuiAction.EXPORT);
    assertThat(GuiTranslator.actions("视频已生成。点击导出按钮下载。")).containsExactly(GuiTranslator.GuiAction.EXPORT);
    assertThat(GuiTranslator.actions("Check your account balance in the billing panel."))
        .containsExactly(GuiTranslator.GuiAction.CREDITS);
    assertThat(GuiTranslator.actions("I will export nothing until you say so.")).isEmpty(); // not a GUI instruction
  }

  @Test
  void guiInstructionsGoContentDescriptionsStay() {
    assertThat(GuiTranslator.strip(
            "Done! I added background music and a title. Preview it in the timeline, then click Export to download your video."))
        .isEqualTo("Done! I added background music and a title.");
    assertThat(GuiTranslator.strip("Open the effects panel to adjust it. The title now reads 'Paradise Found'."))
        .isEqualTo("The title now reads 'Paradise Found'.");
    assertThat(GuiTranslator.strip("Drag it onto the timeline.")).isEmpty();
    assertThat(GuiTranslator.strip("视频已生成。点击导出按钮下载。")).isEqualTo("视频已生成。");
    assertThat(GuiTranslator.strip(
            "Done! Timeline (2 tracks): 1. Video: fox (0-5s) 2. Title: \"Fox\" (0-3s) Preview it in the timeline, then click Export."))
        .isEqualTo("Done!");
    assertThat(GuiTranslator.strip("Timeline (2 tracks): 1. Video: fox (0-5s) 2. BGM: Lo-fi (0-5s, 35%). Enjoy!"))
        .isEqualTo("Timeline (2 tracks): 1. Video: fox (0-5s) 2. BGM: Lo-fi (0-5s, 35%). Enjoy!");
    assertThat(GuiTranslator.strip("A fox runs through snow at dusk.")).isEqualTo("A fox runs through snow at dusk.");
  }

  @Test
  void aSentenceEndingInADigitIsASentenceNotAListNumber() {
    // the agent's greeting: the first sentence describes what it can do, the second is a GUI instruction
    String greeting = "I can generate video clips from a text description, add background music, titles and subtitles, "
        + "trim and rearrange clips, and export the result as an MP4. Open the panel on the left to browse templates.";
    assertThat(GuiTranslator.strip(greeting)).isEqualTo(greeting.substring(0, greeting.indexOf(" Open the panel")));
    assertThat(GuiTranslator.actions(greeting)).as("describing export is no instruction to export").isEmpty();
    assertThat(GuiTranslator.strip("Rendered at 1080p60. Click Export to save it."))
        .isEqualTo("Rendered at 1080p60.");
    // list numbers still do not end a sentence
    assertThat(GuiTranslator.strip("Timeline (2 tracks): 1. Video: fox (0-5s) 2. Title: \"Fox\" (0-3s)"))
        .isEqualTo("Timeline (2 tracks): 1. Video: fox (0-5s) 2. Title: \"Fox\" (0-3s)");
  }
}
