package io.reelay.protocol;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.List;

/** Jackson's failures as a person reads them: the field and what is wrong with it, one line. */
public final class JsonProblems {

  private JsonProblems() {}

  /**
   * One readable line for a failure to read a {@link Request} (or any record): {@code field 'v':
   * must be a whole number}, {@code not JSON (…)}, no class names; at most 300 characters.
   */
  public static String describe(Throwable e) {
    Throwable t = e instanceof UncheckedIOException && e.getCause() != null ? e.getCause() : e;
    if (t instanceof JsonMappingException jm && jm.getCause() instanceof JsonProcessingException broken) {
      t = broken; // broken JSON met inside a field: the JSON is the problem, not the field
    }
    String m;
    if (t instanceof StreamConstraintsException sc) {
      m = sc.getOriginalMessage().startsWith("Document nesting depth")
          ? "nested deeper than " + sc.getOriginalMessage().replaceAll(".*maximum allowed \\((\\d+).*", "$1") + " levels"
          : "a JSON value longer than any request needs";
    } else if (t instanceof JsonMappingException jm) {
      String field = jm.getPath().isEmpty() ? null : path(jm.getPath());
      String where = field == null ? "" : "field '" + field + "': ";
      String original = jm.getOriginalMessage();
      if (jm.getCause() instanceof IllegalArgumentException iae) {
        m = where + iae.getMessage();
      } else if (jm instanceof MismatchedInputException mi && mi.getTargetType() != null) {
        if (field == null) {
          m = "a request is a JSON object {\"v\":1,\"requestId\":…}, not " + (original.contains("Array value") ? "an array"
              : original.contains("String value") ? "a string" : original.contains("Number value") ? "a number"
              : original.contains("end-of-input") ? "empty" : "true/false");
        } else {
          m = where + (original.startsWith("Cannot map `null`") ? "required, " : "must be ") + expected(mi.getTargetType());
        }
      } else {
        m = where + original.replaceAll("`[^`]*`", "a value");
      }
    } else if (t instanceof JsonProcessingException jp) {
      String o = jp.getOriginalMessage();
      m = "not JSON (" + (o.startsWith("Unexpected end-of-input") ? "it ends early: cut off?" : o.replaceAll(" in [A-Z_]+$", "")) + ")";
    } else {
      m = String.valueOf(t.getMessage());
    }
    int nl = m.indexOf('\n');
    m = nl > 0 ? m.substring(0, nl) : m;
    return m.length() > 300 ? m.substring(0, 300) + "…" : m;
  }

  /** Where in the document: {@code upload.url}, {@code items[2].name}. */
  private static String path(List<JsonMappingException.Reference> refs) {
    StringBuilder sb = new StringBuilder();
    for (JsonMappingException.Reference r : refs) {
      if (r.getFieldName() != null) {
        sb.append(sb.length() == 0 ? "" : ".").append(r.getFieldName());
      } else {
        sb.append('[').append(r.getIndex()).append(']');
      }
    }
    return sb.toString();
  }

  /** What a field of this Java type looks like in JSON, for a person. */
  private static String expected(Class<?> type) {
    if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
      return "a whole number";
    }
    if (type == String.class || type.isEnum()) {
      return "a string";
    }
    if (type == Instant.class) {
      return "an ISO-8601 time such as 2026-01-31T12:00:00Z";
    }
    return "a JSON object";
  }
}
