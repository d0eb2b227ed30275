package io.reelay.worker;

import io.reelay.protocol.Request;
import java.io.Closeable;
import java.io.IOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Decides, before anything is sent, whether an upload may go: the file type against the backend's
 * whitelist, the size against the limit, and a local path against the tenant's own media directory
 * ({@code <media-dir>/<tenant>/}). The path is resolved one name at a time from that directory,
 * symlinks included, and never looked up outside it: a way out ({@code ..}, an absolute path, a link
 * leading out) gets the same answer whether its target exists or not. The file is opened during that
 * walk (relative to its directory's handle where the platform allows, never following a link), and
 * that handle is what gets uploaded, so nothing swapped in after the check is read. Answers name the
 * path as the tenant gave it, never a server path.
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

  /** Symbolic links followed inside one path before it is refused (the kernel's own limit). */
  private static final int MAX_LINKS = 40;

  sealed interface Verdict {}

  /** Send the URL; the backend fetches it. */
  record Url(String url) implements Verdict {}

  /**
   * Send this file: {@code channel} is the file opened where it was checked, {@code bytes} its size
   * then, {@code name} its name as the tenant gave it. Whoever holds it sends it or closes it.
   */
  record LocalFile(String name, String contentType, long bytes, SeekableByteChannel channel) implements Verdict, Closeable {
    @Override
    public void close() {
      closeQuietly(channel);
    }
  }

  /** Refused before sending, with the reason and what to do. */
  record Refused(String code, String reason, String hint) implements Verdict {}

  private UploadCheck() {}

  /** The refusal, if the upload would be refused (the file is only looked at, nothing stays open); null if it may go. */
  static Refused refusal(Request.Upload u, String tenant, Path mediaDir, long maxBytes) {
    Verdict v = check(u, tenant, mediaDir, maxBytes);
    if (v instanceof LocalFile f) {
      f.close();
    }
    return v instanceof Refused r ? r : null;
  }

  /** The verdict on {@code tenant}'s upload; a {@link LocalFile} is open and must be sent or closed. */
  static Verdict check(Request.Upload u, String tenant, Path mediaDir, long maxBytes) {
    return check(u, tenant, mediaDir, maxBytes, true);
  }

  /** {@code secure}: walk with directory handles where the platform has them; false forces the by-path fallback (tests). */
  static Verdict check(Request.Upload u, String tenant, Path mediaDir, long maxBytes, boolean secure) {
    if (u.url() != null && !u.url().isBlank()) {
      return url(u);
    }
    Path base = mediaDir.toAbsolutePath().normalize();
    if (!ownDirectory(base, tenant)) {
      return new Refused("INVALID_TENANT", "tenant " + tenant + " cannot have a media directory",
          "Use a tenant id that is a plain name (not '.' or '..')");
    }
    Path asked;
    try {
      asked = base.getFileSystem().getPath(u.path() == null ? "" : u.path()).normalize();
    } catch (InvalidPathException e) {
      return new Refused("INVALID_PATH", "upload.path is not a valid path", "Give a path relative to " + yours(tenant));
    }
    if (asked.isAbsolute() || asked.getRoot() != null || asked.startsWith("..")) {
      return outside(u.path(), tenant); // decided on the text alone: nothing outside is looked at
    }
    if (asked.getFileName() == null || asked.toString().isEmpty()) {
      return new Refused("INVALID_PATH", "upload.path names no file", "Give a path relative to " + yours(tenant));
    }
    String name = asked.getFileName().toString();
    String contentType = type(name);
    if (contentType == null) {
      return unsupported(name);
    }
    SeekableByteChannel channel;
    try {
      channel = openBeneath(base, tenant, asked, secure);
    } catch (Miss m) {
      return switch (m.kind) {
        case OUTSIDE -> outside(u.path(), tenant);
        case NOT_FOUND -> new Refused("NOT_FOUND", "no file " + u.path() + " in the media directory of tenant " + tenant,
            "Put the file in " + yours(tenant));
        case NOT_A_FILE -> new Refused("NOT_FOUND", "upload.path " + u.path() + " is not a regular file",
            "Give the path of a file in " + yours(tenant));
        case LINK_LOOP -> new Refused("NOT_READABLE", "upload.path " + u.path() + " goes through too many symbolic links",
            "Give the file's own path in " + yours(tenant));
      };
    } catch (IOException e) {
      return unreadable(u.path(), tenant);
    }
    try {
      long size = channel.size(); // of the file opened, whatever the path names by now
      if (size > maxBytes) {
        closeQuietly(channel);
        return new Refused("4002", "the file is " + mib(size) + ", over the limit of " + mib(maxBytes),
            "Compress or trim the file, then upload it again");
      }
      return new LocalFile(name, contentType, size, channel);
    } catch (IOException | RuntimeException e) {
      closeQuietly(channel);
      return unreadable(u.path(), tenant);
    }
  }

  private static Verdict url(Request.Upload u) {
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

  /** Whether {@code tenant} names a directory of its own right under {@code base}. */
  private static boolean ownDirectory(Path base, String tenant) {
    if (tenant.isEmpty() || tenant.equals(".") || tenant.equals("..")) {
      return false;
    }
    try {
      Path dir = base.resolve(tenant).normalize();
      return base.equals(dir.getParent()) && dir.getFileName().toString().equals(tenant);
    } catch (InvalidPathException e) {
      return false;
    }
  }

  static String type(String name) {
    int dot = name.lastIndexOf('.');
    return dot < 0 ? null : TYPES.get(name.substring(dot + 1).toLowerCase(Locale.ROOT));
  }

  // ------------------------------------------------------------------ the walk

  /** Why a path does not lead to a file the tenant may upload. */
  private enum MissKind { OUTSIDE, NOT_FOUND, NOT_A_FILE, LINK_LOOP }

  private static final class Miss extends Exception {
    final MissKind kind;

    Miss(MissKind kind) {
      super(kind.name(), null, false, false);
      this.kind = kind;
    }
  }

  /**
   * Opens {@code asked} (relative, normalized, not leading up) inside {@code base/tenant}, one name
   * at a time, never following a link: a link's target is read and walked in turn from where the
   * link is, and a {@code ..} above the tenant's directory, or an absolute target not inside it, is
   * a way out, refused before anything there is looked at.
   */
  private static SeekableByteChannel openBeneath(Path base, String tenant, Path asked, boolean secure) throws IOException, Miss {
    Path root;
    try {
      root = base.toRealPath().resolve(tenant);
    } catch (NoSuchFileException e) {
      throw new Miss(MissKind.NOT_FOUND);
    }
    Deque<Dir> dirs = new ArrayDeque<>();
    try {
      dirs.push(Dir.tenantRoot(root, secure));
      Deque<Path> todo = new ArrayDeque<>();
      asked.forEach(todo::addLast);
      int links = 0;
      while (!todo.isEmpty()) {
        Path name = todo.removeFirst();
        String s = name.toString();
        if (s.isEmpty() || s.equals(".")) {
          continue;
        }
        if (s.equals("..")) {
          if (dirs.size() == 1) {
            throw new Miss(MissKind.OUTSIDE);
          }
          dirs.pop().close(); // the directories walked are real ones, so '..' is their parent
          continue;
        }
        Dir dir = dirs.peek();
        BasicFileAttributes a;
        try {
          a = dir.attributes(name);
        } catch (NoSuchFileException e) {
          throw new Miss(MissKind.NOT_FOUND);
        }
        if (a.isSymbolicLink()) {
          if (++links > MAX_LINKS) {
            throw new Miss(MissKind.LINK_LOOP);
          }
          Path target = Files.readSymbolicLink(dir.path().resolve(name));
          if (target.isAbsolute()) {
            if (!target.startsWith(root)) {
              throw new Miss(MissKind.OUTSIDE);
            }
            while (dirs.size() > 1) {
              dirs.pop().close();
            }
            target = root.relativize(target);
          }
          List<Path> names = new ArrayList<>();
          target.forEach(names::add);
          for (int i = names.size() - 1; i >= 0; i--) {
            todo.addFirst(names.get(i));
          }
        } else if (a.isDirectory()) {
          dirs.push(dir.enter(name));
        } else if (!todo.isEmpty()) {
          throw new Miss(MissKind.NOT_FOUND); // a file where the path goes on as if it were a directory
        } else if (!a.isRegularFile()) {
          throw new Miss(MissKind.NOT_A_FILE);
        } else {
          return dir.open(name);
        }
      }
      throw new Miss(MissKind.NOT_A_FILE); // the path names a directory
    } finally {
      dirs.forEach(UploadCheck::closeQuietly);
    }
  }

  /**
   * A directory the walk stands in. With directory handles ({@link SecureDirectoryStream}: Linux),
   * every look-up is relative to the handle and does not follow links, so a directory swapped for a
   * link during the walk fails it; elsewhere, look-ups by path, and the file opened is checked to be
   * where the walk found it.
   */
  private interface Dir extends Closeable {

    /** Where the walk found it: a real path (no links) inside the tenant's directory. */
    Path path();

    BasicFileAttributes attributes(Path name) throws IOException;

    Dir enter(Path name) throws IOException;

    SeekableByteChannel open(Path name) throws IOException;

    static Dir tenantRoot(Path root, boolean secure) throws IOException, Miss {
      if (secure) {
        DirectoryStream<Path> media = Files.newDirectoryStream(root.getParent());
        if (media instanceof SecureDirectoryStream<Path> sds) {
          try {
            return new Handle(root, sds.newDirectoryStream(root.getFileName(), LinkOption.NOFOLLOW_LINKS));
          } catch (NoSuchFileException e) {
            throw new Miss(MissKind.NOT_FOUND);
          } finally {
            media.close();
          }
        }
        media.close();
      }
      BasicFileAttributes a;
      try {
        a = Files.readAttributes(root, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      } catch (NoSuchFileException e) {
        throw new Miss(MissKind.NOT_FOUND);
      }
      if (!a.isDirectory()) {
        throw new IOException("the tenant's media directory is not a directory"); // e.g. a link: not followed
      }
      return new ByPath(root);
    }
  }

  private record Handle(Path path, SecureDirectoryStream<Path> dir) implements Dir {
    @Override
    public BasicFileAttributes attributes(Path name) throws IOException {
      return dir.getFileAttributeView(name, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).readAttributes();
    }

    @Override
    public Dir enter(Path name) throws IOException {
      return new Handle(path.resolve(name), dir.newDirectoryStream(name, LinkOption.NOFOLLOW_LINKS));
    }

    @Override
    public SeekableByteChannel open(Path name) throws IOException {
      return dir.newByteChannel(name, Set.<OpenOption>of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS));
    }

    @Override
    public void close() throws IOException {
      dir.close();
    }
  }

  private record ByPath(Path path) implements Dir {
    @Override
    public BasicFileAttributes attributes(Path name) throws IOException {
      return Files.readAttributes(path.resolve(name), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    }

    @Override
    public Dir enter(Path name) {
      return new ByPath(path.resolve(name));
    }

    @Override
    public SeekableByteChannel open(Path name) throws IOException {
      Path file = path.resolve(name);
      FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
      if (!file.toRealPath().equals(file)) { // a directory on the way was swapped for a link
        channel.close();
        throw new IOException("the file moved while it was opened");
      }
      return channel;
    }

    @Override
    public void close() {}
  }

  // ------------------------------------------------------------------ answers

  /** How a tenant is told where its files go: its own directory, never the server's path. */
  private static String yours(String tenant) {
    return "the media directory of tenant " + tenant + " (" + tenant + "/ under the worker's uploads.media-dir)";
  }

  private static Refused unsupported(String name) {
    return new Refused("4001", "unsupported file type: " + (name.isBlank() ? "(no name)" : name),
        "Accepted formats: " + FailureReport.ACCEPTED_FORMATS);
  }

  /** One answer for every way out, whether what lies there exists or not. */
  private static Refused outside(String path, String tenant) {
    return new Refused("PATH_OUTSIDE_MEDIA_DIR", "upload.path " + path + " is outside the media directory of tenant " + tenant,
        "Give a path relative to " + yours(tenant) + ": no '..' out of it, not absolute, no link leading out");
  }

  private static Refused unreadable(String path, String tenant) {
    return new Refused("NOT_READABLE", "cannot read " + path, "Check the file and its permissions in " + yours(tenant));
  }

  private static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
  }

  private static void closeQuietly(Closeable c) {
    try {
      c.close();
    } catch (IOException ignored) {
      // nothing was written through it
    }
  }
}
