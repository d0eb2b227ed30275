package io.reelay.worker;

import io.reelay.protocol.Request;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * Decides, before anything is sent, whether an upload may go: the file type against the backend's
 * whitelist, the size against the limit, and a local path against the media directory (no {@code
 * ..}, no absolute path, no symlink leading out of it).
 */
final class UploadCheck {

  /** The backend's accepted types (nemo-api.md §2), by extension. */
  static final Map<String, String> TYPES = Map.ofEntries(
      Map.entry("mp4", "video/mp4"), Map.entry("mov", "video/quicktime"), Map.entry("avi", "video/x-msvideo"),
      Map.entry("webm", "video/webm"), Map.entry("mkv", "video/x-matroska"),
      Map.entry("jpg", "image/jpeg"), Map.entry("jpeg", "image/jpeg"), Map.entry("png", "image/png"),
      Map.entry("gif", "image/gif"), Map.entry("webp", "image/webp"),
      Map.entry("mp3", "audio/mpeg"), Map.entry("wav", "audio/wav"), Map.entry("m4a", "audio/mp4"),
      Map.entry("aac", "audio/aac"));

  sealed interface Verdict {}

  /** Send the URL; the backend fetches it. */
  record Url(String url) implements Verdict {}

  /** Send this file (inside the media directory) with this content type. */
  record LocalFile(Path path, String contentType, long bytes) implements Verdict {}

  /** Refused before sending, with the reason and what to do. */
  record Refused(String code, String reason, String hint) implements Verdict {}

  private UploadCheck() {}

  static Verdict check(Request.Upload u, Path mediaDir, long maxBytes) {
    if (u.url() != null && !u.url().isBlank()) {
      URI uri;
      try {
        uri = URI.create(u.url().trim());
      } catch (IllegalArgumentException e) {
        return new Refused("INVALID_URL", "upload.url is not a URL", "Send an http(s) URL the backend can fetch");
      }
      if (!"http".equalsIgnoreCase(uri.getScheme()) && !"https".equalsIgnoreCase(uri.getScheme())) {
        return new Refused("INVALID_URL", "upload.url must be http or https", "Send an http(s) URL the backend can fetch");
      }
      String name = u.fileName() != null ? u.fileName() : uri.getPath() == null ? "" : uri.getPath();
      return type(name) == null ? unsupported(name) : new Url(uri.toString());
    }
    Path base = mediaDir.toAbsolutePath().normalize();
    Path file;
    try {
      Path asked = Path.of(u.path());
      if (asked.isAbsolute()) {
        return outside(u.path(), base);
      }
      file = base.resolve(asked).normalize();
    } catch (InvalidPathException e) {
      return new Refused("INVALID_PATH", "upload.path is not a valid path", "Give a path relative to " + base);
    }
    if (!file.startsWith(base)) {
      return outside(u.path(), base);
    }
    if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(file)) {
      return new Refused("NOT_FOUND", "no file " + u.path() + " in the media directory", "Put the file under " + base);
    }
    try {
      if (!file.toRealPath().startsWith(base.toRealPath())) {
        return outside(u.path(), base); // a symlink pointing out of the media directory
      }
      String contentType = type(file.getFileName().toString());
      if (contentType == null) {
        return unsupported(file.getFileName().toString());
      }
      long size = Files.size(file);
      if (size > maxBytes) {
        return new Refused("4002", "the file is " + mib(size) + ", over the limit of " + mib(maxBytes),
            "Compress or trim the file, then upload it again");
      }
      return new LocalFile(file, contentType, size);
    } catch (IOException e) {
      return new Refused("NOT_READABLE", "cannot read " + u.path(), "Check the file's permissions under " + base);
    }
  }

  static String type(String name) {
    int dot = name.lastIndexOf('.');
    return dot < 0 ? null : TYPES.get(name.substring(dot + 1).toLowerCase(Locale.ROOT));
  }

  private static Refused unsupported(String name) {
    return new Refused("4001", "unsupported file type: " + (name.isBlank() ? "(no name)" : name),
        "Accepted formats: " + FailureReport.ACCEPTED_FORMATS);
  }

  private static Refused outside(String path, Path base) {
    return new Refused("PATH_OUTSIDE_MEDIA_DIR", "upload.path " + path + " is outside the media directory",
        "Give a path relative to " + base + " (no '..', not absolute)");
  }

  private static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
  }
}
