package io.reelay.protocol;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The published JSON Schemas (draft 2020-12) of the topic messages, shipped in this jar under
 * {@value #RESOURCE_DIR}: {@link #REQUEST}, {@link #EVENT}, {@link #SESSION_SNAPSHOT} and {@link
 * #DEAD_LETTER} (the DLQ record's headers; its value is the original bytes). Each schema's {@code
 * $id} is {@link #ID_BASE} + its file name, and schemas refer to each other relatively, so a
 * validator that maps {@link #ID_BASE} to {@value #RESOURCE_DIR} on the class path resolves them
 * offline. Only the text is served here: which validator to use is the reader's choice.
 */
public final class Schemas {

  public static final String REQUEST = "request";
  public static final String EVENT = "event";
  public static final String SESSION_SNAPSHOT = "session-snapshot";
  public static final String DEAD_LETTER = "dead-letter";

  /** Every schema's name. */
  public static final List<String> NAMES = List.of(REQUEST, EVENT, SESSION_SNAPSHOT, DEAD_LETTER);

  /** The prefix of every schema's {@code $id}: an identifier, not a place to download from. */
  public static final String ID_BASE = "https://reelay.io/schemas/v1/";

  /** Where the schema files are on the class path. */
  public static final String RESOURCE_DIR = "io/reelay/protocol/schemas/";

  private Schemas() {}

  /** {@code event} → {@code event.schema.json}. */
  public static String fileName(String name) {
    if (!NAMES.contains(name)) {
      throw new IllegalArgumentException("no schema '" + name + "'; there are " + String.join(", ", NAMES));
    }
    return name + ".schema.json";
  }

  /** The schema's {@code $id}. */
  public static String id(String name) {
    return ID_BASE + fileName(name);
  }

  /** The schema file on the class path. */
  public static URL resource(String name) {
    URL url = Schemas.class.getClassLoader().getResource(RESOURCE_DIR + fileName(name));
    if (url == null) {
      throw new IllegalStateException(RESOURCE_DIR + fileName(name) + " is missing from the class path");
    }
    return url;
  }

  /** The schema's JSON text. */
  public static String text(String name) {
    try (InputStream in = resource(name).openStream()) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
