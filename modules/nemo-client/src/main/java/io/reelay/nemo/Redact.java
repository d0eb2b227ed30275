package io.reelay.nemo;

import java.util.regex.Pattern;

/** Keeps secrets and long raw bodies out of messages that may be logged or published. */
public final class Redact {

  private static final Pattern SECRET =
      Pattern.compile("(nmv_usr_|clm_|Bearer\\s+)[A-Za-z0-9._\\-]+");
  private static final int MAX = 200;

  private Redact() {}

  public static String text(String s) {
    if (s == null) {
      return "";
    }
    String r = SECRET.matcher(s).replaceAll("$1***");
    return r.length() > MAX ? r.substring(0, MAX) + "…" : r;
  }
}
