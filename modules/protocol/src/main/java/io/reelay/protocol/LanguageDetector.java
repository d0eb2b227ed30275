package io.reelay.protocol;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The session language from the first text, as the backend wants it in session creation ({@code
 * zh-CN}, {@code ja}, {@code ko}, {@code en}, {@code es}, {@code fr}, {@code de}): scripts decide
 * Chinese, Japanese and Korean; common function words decide among the Latin-script languages.
 */
public final class LanguageDetector {

  private static final Map<String, Set<String>> WORDS =
      Map.of(
          "en", Set.of("the", "a", "an", "of", "and", "with", "in", "to", "make", "clip", "video", "please"),
          "es", Set.of("el", "la", "los", "las", "un", "una", "de", "del", "y", "con", "en", "por", "que", "haz", "vídeo", "video"),
          "fr", Set.of("le", "la", "les", "un", "une", "des", "du", "de", "et", "avec", "dans", "au", "fais", "vidéo", "crée"),
          "de", Set.of("der", "die", "das", "ein", "eine", "einen", "und", "mit", "im", "in", "von", "bei", "erstelle", "mach"));

  private static final List<String> LATIN_ORDER = List.of("en", "es", "fr", "de");

  private LanguageDetector() {}

  public static String detect(String text) {
    if (text == null || text.isBlank()) {
      return "en";
    }
    int han = 0;
    for (int i = 0; i < text.length(); ) {
      int cp = text.codePointAt(i);
      Character.UnicodeScript s = Character.UnicodeScript.of(cp);
      if (s == Character.UnicodeScript.HIRAGANA || s == Character.UnicodeScript.KATAKANA) {
        return "ja"; // kana only occur in Japanese, even among kanji
      }
      if (s == Character.UnicodeScript.HANGUL) {
        return "ko";
      }
      if (s == Character.UnicodeScript.HAN) {
        han++;
      }
      i += Character.charCount(cp);
    }
    if (han > 0) {
      return "zh-CN";
    }
    String best = "en";
    int bestScore = 0;
    String[] tokens = text.toLowerCase(Locale.ROOT).split("[^\\p{L}]+");
    for (String lang : LATIN_ORDER) {
      int score = 0;
      for (String t : tokens) {
        if (WORDS.get(lang).contains(t)) {
          score++;
        }
      }
      score += accents(text, lang);
      if (score > bestScore) {
        best = lang;
        bestScore = score;
      }
    }
    return best;
  }

  private static int accents(String text, String lang) {
    String marks = switch (lang) {
      case "es" -> "ñ¿¡";
      case "fr" -> "çèêàùœ";
      case "de" -> "äöüß";
      default -> "";
    };
    int n = 0;
    for (char c : text.toLowerCase(Locale.ROOT).toCharArray()) {
      if (marks.indexOf(c) >= 0) {
        n += 2;
      }
    }
    return n;
  }
}
