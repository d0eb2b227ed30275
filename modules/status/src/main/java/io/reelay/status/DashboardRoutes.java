package io.reelay.status;

import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * The dashboard: {@code GET /} is its page, {@code GET /ui/{file}} its scripts and styles, plain
 * files of the class path ({@value #DIR}). They hold no data, so no API key is asked for; the page
 * asks for one and calls the API with it. A file is one path segment of letters, digits, {@code
 * _} and {@code -} with a known extension, so no name can climb out of the directory or list it.
 * Every answer carries a Content-Security-Policy that allows this origin only (no inline scripts
 * or styles, nothing from other hosts).
 */
final class DashboardRoutes extends AllDirectives {

  static final String DIR = "io/reelay/status/ui/";

  static final String CSP = "default-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; style-src 'self'; "
      + "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

  static final List<HttpHeader> HEADERS = List.of(
      RawHeader.create("Content-Security-Policy", CSP),
      RawHeader.create("X-Content-Type-Options", "nosniff"),
      RawHeader.create("Referrer-Policy", "no-referrer"),
      RawHeader.create("Cache-Control", "no-cache"));

  private static final Pattern FILE = Pattern.compile("[A-Za-z0-9_-]{1,64}\\.(html|js|css|svg)");

  private static final Map<String, ContentType> TYPES = Map.of(
      "html", ContentTypes.TEXT_HTML_UTF8,
      "js", ContentTypes.parse("text/javascript; charset=UTF-8"),
      "css", ContentTypes.parse("text/css; charset=UTF-8"),
      "svg", ContentTypes.parse("image/svg+xml"));

  Route route() {
    return concat(
        pathSingleSlash(() -> get(() -> respondWithHeaders(HEADERS, () -> file("index.html")))),
        path(PathMatchers.segment("ui").slash(PathMatchers.segment()), name -> get(() -> respondWithHeaders(HEADERS, () -> file(name)))));
  }

  /** The file {@code name} of the directory, or a rejection (404) for any other name or a missing file. */
  private Route file(String name) {
    Matcher m = FILE.matcher(name);
    if (!m.matches()) {
      return reject();
    }
    return getFromResource(DIR + name, TYPES.get(m.group(1)), DashboardRoutes.class.getClassLoader());
  }
}
