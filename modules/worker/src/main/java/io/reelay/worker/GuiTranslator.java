package io.reelay.worker;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The backend's agent assumes a GUI ("click Export", "open the panel", "preview in timeline"). Its
 * replies reach people through events, where no such GUI exists: sentences that are GUI
 * instructions are removed, descriptions of the content are kept (the seed's translation table).
 */
final class GuiTranslator {

  // a sentence ends at . ! ? followed by space, or at 。！？; not after a list number ("2 tracks): 1. Video"),
  // though a word that ends in a digit ends a sentence like any other ("export it as an MP4. Open the …")
  private static final Pattern SENTENCE =
      Pattern.compile("(?<=[.!?])(?<!(?:^|[\\s(:])\\d{1,3}\\.)\\s+|(?<=[。！？])\\s*");
  private static final List<Pattern> GUI =
      List.of(
          Pattern.compile("\\bclick(ing)?\\b"),
          Pattern.compile("\\b(open|opening)\\s+(the\\s+)?[\\w ]*\\b(panel|menu|tab|sidebar|settings)\\b"),
          Pattern.compile("\\bdrag(ging)?\\b|\\bdrop\\s+it\\b"),
          Pattern.compile("\\bpreview\\b.*\\btimeline\\b"),
          Pattern.compile("\\bexport button\\b"),
          Pattern.compile("\\bcheck your (account|billing|balance|credits)\\b"),
          Pattern.compile("点击|打开|拖拽|导出按钮"));

  /** What a GUI instruction asks for, done through the API instead (the seed's table). */
  enum GuiAction {
    /** "click Export", "Export button", "导出": run the export flow. */
    EXPORT,
    /** "check your account / billing / credits": report the balance. */
    CREDITS
  }

  private static final Pattern EXPORT = Pattern.compile("\\bexport\\b|导出");
  private static final Pattern CREDITS = Pattern.compile("\\b(account|billing|balance|credits)\\b|积分|余额");

  private GuiTranslator() {}

  /** The GUI instructions in {@code text} that ask for an action the session can take by API. */
  static Set<GuiAction> actions(String text) {
    EnumSet<GuiAction> out = EnumSet.noneOf(GuiAction.class);
    for (String sentence : SENTENCE.split(text.strip())) {
      String lower = sentence.toLowerCase(Locale.ROOT);
      if (GUI.stream().anyMatch(p -> p.matcher(lower).find()) || lower.contains("check your")) {
        if (EXPORT.matcher(lower).find()) {
          out.add(GuiAction.EXPORT);
        }
        if (CREDITS.matcher(lower).find()) {
          out.add(GuiAction.CREDITS);
        }
      }
    }
    return out;
  }

  /** The text without GUI instructions; empty when nothing but instructions was said. */
  static String strip(String text) {
    List<String> kept = new ArrayList<>();
    for (String sentence : SENTENCE.split(text.strip())) {
      String lower = sentence.toLowerCase(Locale.ROOT);
      if (!sentence.isBlank() && GUI.stream().noneMatch(p -> p.matcher(lower).find())) {
        kept.add(sentence.strip());
      }
    }
    return String.join(" ", kept);
  }
}
