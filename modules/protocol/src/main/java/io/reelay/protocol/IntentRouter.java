package io.reelay.protocol;

import java.util.List;
import java.util.Locale;

/**
 * Derives an {@link Action} from what a user typed, exactly as the seed skill's routing table does:
 * export, credits, state and upload keywords (English and Chinese) skip the agent; everything else
 * goes to it over SSE.
 */
public final class IntentRouter {

  private static final List<String> EXPORT =
      List.of("export", "导出", "download", "send me the video");
  private static final List<String> CREDITS = List.of("credits", "积分", "balance", "余额");
  private static final List<String> STATE = List.of("status", "状态", "show tracks");
  private static final List<String> UPLOAD = List.of("upload", "上传");

  private IntentRouter() {}

  /**
   * @param text what the user typed (may be null)
   * @param hasAttachment whether the request carries a file ("user sends file" in the seed table)
   */
  public static Action route(String text, boolean hasAttachment) {
    if (hasAttachment) {
      return Action.UPLOAD;
    }
    String t = text == null ? "" : text.toLowerCase(Locale.ROOT);
    if (containsAny(t, EXPORT)) {
      return Action.EXPORT;
    }
    if (containsAny(t, CREDITS)) {
      return Action.CREDITS;
    }
    if (containsAny(t, STATE)) {
      return Action.STATE;
    }
    if (containsAny(t, UPLOAD)) {
      return Action.UPLOAD;
    }
    return Action.GENERATE;
  }

  private static boolean containsAny(String text, List<String> keywords) {
    for (String k : keywords) {
      if (text.contains(k)) {
        return true;
      }
    }
    return false;
  }
}
