package io.reelay.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LanguageDetectorTest {

  @Test
  void detectsTheSevenLanguagesTheBackendIsUsedWith() {
    assertThat(LanguageDetector.detect("a fox running through a snowy forest at dusk")).isEqualTo("en");
    assertThat(LanguageDetector.detect("生成一段城市夜景的视频")).isEqualTo("zh-CN");
    assertThat(LanguageDetector.detect("夕暮れの森を走るキツネの動画を作って")).isEqualTo("ja");
    assertThat(LanguageDetector.detect("눈 덮인 숲을 달리는 여우 영상")).isEqualTo("ko");
    assertThat(LanguageDetector.detect("un zorro corriendo por el bosque nevado al atardecer")).isEqualTo("es");
    assertThat(LanguageDetector.detect("un renard qui court dans la forêt enneigée au crépuscule")).isEqualTo("fr");
    assertThat(LanguageDetector.detect("ein Fuchs läuft durch den verschneiten Wald in der Dämmerung")).isEqualTo("de");
    assertThat(LanguageDetector.detect("")).isEqualTo("en");
  }
}
