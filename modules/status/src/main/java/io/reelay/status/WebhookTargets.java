package io.reelay.status;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Where webhooks may go (SSRF): never to loopback, link-local (cloud metadata at 169.254.169.254
 * included), private, shared (CGNAT), unique-local, multicast, unspecified, broadcast or reserved
 * addresses, whether IPv4, IPv6 or an IPv6 address that embeds such an IPv4 one (IPv4-mapped,
 * IPv4-compatible, NAT64, 6to4), unless {@code reelay.webhooks.allow} lists them: CIDRs
 * ({@code 10.1.0.0/16}, {@code ::1/128}, a bare address is one address) and host names (an allowed
 * name is allowed whatever it resolves to).
 *
 * <p>The dispatcher's connections go through {@link #resolve}: it resolves the name, checks every
 * address, and the connection goes to the address it checked, so a name that resolves to a public
 * address now and to a private one later (DNS rebinding) cannot get around the check. A name with
 * any refused address is refused, even if others are public: such a name is not one to trust.
 */
public final class WebhookTargets {

  /** The setting that lists exceptions, for messages. */
  static final String SETTING = "reelay.webhooks.allow (REELAY_WEBHOOK_ALLOW)";

  private static final Pattern DOTTED_QUAD = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
  private static final Pattern NUMERIC = Pattern.compile("[0-9.]+");
  private static final Pattern HOST_NAME =
      Pattern.compile("(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*");

  /** An address block: {@code network/prefix}, 4 or 16 bytes. */
  record Cidr(byte[] network, int prefix) {
    boolean contains(byte[] address) {
      if (address.length != network.length) {
        return false;
      }
      int full = prefix / 8;
      for (int i = 0; i < full; i++) {
        if (address[i] != network[i]) {
          return false;
        }
      }
      int rest = prefix % 8;
      if (rest == 0) {
        return true;
      }
      int mask = (0xff << (8 - rest)) & 0xff;
      return (address[full] & mask) == (network[full] & mask);
    }

    @Override
    public String toString() {
      try {
        return InetAddress.getByAddress(network).getHostAddress() + "/" + prefix;
      } catch (UnknownHostException e) {
        throw new IllegalStateException(e);
      }
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Cidr c && c.prefix == prefix && Arrays.equals(c.network, network);
    }

    @Override
    public int hashCode() {
      return 31 * Arrays.hashCode(network) + prefix;
    }
  }

  /** A destination the policy refuses; its message names the host and the address, never a URL. */
  public static final class Refused extends RuntimeException {
    Refused(String message) {
      super(message, null, false, false);
    }
  }

  private final List<Cidr> cidrs;
  private final Set<String> names;

  private WebhookTargets(List<Cidr> cidrs, Set<String> names) {
    this.cidrs = List.copyOf(cidrs);
    this.names = Set.copyOf(names);
  }

  /** Refuses every internal address; nothing allowed. */
  public static WebhookTargets strict() {
    return new WebhookTargets(List.of(), Set.of());
  }

  /** {@code "127.0.0.1/32,::1/128,hooks.internal"}: comma separated, blanks ignored. */
  public static WebhookTargets parse(String commaSeparated) {
    return parse(Arrays.asList(commaSeparated.split(",", -1)));
  }

  /**
   * The allow list {@code entries}: CIDRs, single addresses and host names.
   *
   * @throws IllegalArgumentException naming the first entry that is none of these
   */
  public static WebhookTargets parse(List<String> entries) {
    List<Cidr> cidrs = new ArrayList<>();
    Set<String> names = new LinkedHashSet<>();
    for (String raw : entries) {
      String e = raw.trim();
      if (e.isEmpty()) {
        continue;
      }
      int slash = e.indexOf('/');
      if (slash >= 0) {
        cidrs.add(cidr(e, e.substring(0, slash), e.substring(slash + 1)));
      } else if (e.indexOf(':') >= 0 || NUMERIC.matcher(e).matches()) {
        cidrs.add(cidr(e, e, null));
      } else if (e.startsWith("*")) {
        throw bad(e, "is a wildcard; list each host name instead");
      } else if (HOST_NAME.matcher(e.endsWith(".") ? e.substring(0, e.length() - 1) : e).matches()) {
        names.add(normalized(e));
      } else {
        throw bad(e, "is neither a CIDR (10.0.0.0/8, fd00::/8), an address nor a host name");
      }
    }
    return new WebhookTargets(cidrs, names);
  }

  private static Cidr cidr(String entry, String address, String prefixText) {
    String a = address.startsWith("[") && address.endsWith("]") ? address.substring(1, address.length() - 1) : address;
    byte[] bytes;
    if (a.indexOf(':') >= 0) {
      if (a.indexOf('%') >= 0) {
        throw bad(entry, "must not name an IPv6 zone (%…)");
      }
      InetAddress v6 = ipv6Literal(a);
      if (v6 == null) {
        throw bad(entry, "is not an IPv6 address");
      }
      bytes = v6.getAddress();
    } else if (DOTTED_QUAD.matcher(a).matches()) {
      bytes = new byte[4];
      String[] parts = a.split("\\.");
      for (int i = 0; i < 4; i++) {
        int v = Integer.parseInt(parts[i]);
        if (v > 255) {
          throw bad(entry, "is not an IPv4 address (" + v + " > 255)");
        }
        bytes[i] = (byte) v;
      }
    } else {
      throw bad(entry, "is not an IPv4 address (write all four parts: 10.0.0.0/8)");
    }
    int max = bytes.length * 8;
    int prefix = max;
    if (prefixText != null) {
      if (!prefixText.matches("\\d{1,3}")) {
        throw bad(entry, "has no prefix length after '/'");
      }
      prefix = Integer.parseInt(prefixText);
      if (a.indexOf(':') >= 0 && bytes.length == 4) { // ::ffff:a.b.c.d/n: Java hands the IPv4 address over
        if (prefix < 96 || prefix > 128) {
          throw bad(entry, "is an IPv4-mapped block; its prefix must be 96-128");
        }
        prefix -= 96;
      } else if (prefix > max) {
        throw bad(entry, "has prefix /" + prefix + "; at most /" + max);
      }
    }
    byte[] network = bytes.clone();
    for (int bit = prefix; bit < max; bit++) {
      network[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
    }
    return new Cidr(network, prefix);
  }

  private static IllegalArgumentException bad(String entry, String why) {
    return new IllegalArgumentException("reelay.webhooks.allow: entry '" + entry + "' " + why);
  }

  private static String normalized(String host) {
    String h = host.toLowerCase(Locale.ROOT);
    return h.endsWith(".") ? h.substring(0, h.length() - 1) : h;
  }

  /** Whether {@code host} (a name, not an address) is on the allow list. */
  public boolean allowsName(String host) {
    return names.contains(normalized(unbracketed(host)));
  }

  /**
   * Why a webhook must not go to {@code address}, or null when it may (a public address, or one the
   * allow list covers). An IPv4-mapped address is allowed when its IPv4 address is.
   */
  public String refusal(InetAddress address) {
    String why = kind(address);
    return why == null ? null : address.getHostAddress() + " is " + why;
  }

  /** What kind of refused address {@code address} is ("a loopback address (127.0.0.0/8)"), or null. */
  private String kind(InetAddress address) {
    byte[] b = address.getAddress();
    byte[] mapped = b.length == 16 && isMapped(b) ? Arrays.copyOfRange(b, 12, 16) : null;
    for (Cidr c : cidrs) {
      if (c.contains(b) || (mapped != null && c.contains(mapped))) {
        return null;
      }
    }
    return b.length == 4 ? v4Refusal(b) : v6Refusal(b);
  }

  /**
   * Why a webhook must not go to {@code url} when its host is an address literal ({@code
   * http://10.0.0.1/}, {@code http://[::1]/}, also the numeric forms Java reads as addresses such as
   * {@code 2130706433} or {@code 127.1}), or null: a host name, an allowed or public address, or no
   * URL at all. Never looks anything up.
   */
  public String literalRefusal(String url) {
    String host;
    try {
      host = new URI(url).getHost();
    } catch (URISyntaxException e) {
      return null;
    }
    if (host == null) {
      return null;
    }
    InetAddress a = literal(host);
    return a == null ? null : refusal(a);
  }

  /**
   * Resolves {@code host} (blocking) and checks it: the address to connect to, the first one the
   * system resolver returned. An allowed name is not checked.
   *
   * @throws Refused when any of its addresses is refused
   * @throws UnknownHostException when it does not resolve
   */
  public InetSocketAddress resolve(String host, int port) throws UnknownHostException {
    String h = unbracketed(host);
    InetAddress literal = literal(h);
    InetAddress[] all = literal != null ? new InetAddress[] {literal} : InetAddress.getAllByName(h);
    if (literal == null && allowsName(h)) {
      return new InetSocketAddress(all[0], port);
    }
    for (InetAddress a : all) {
      String why = kind(a);
      if (why != null) {
        throw new Refused((literal != null ? a.getHostAddress() + " is " : h + " resolves to " + a.getHostAddress() + ", ")
            + why + ", and " + SETTING + " does not list it");
      }
    }
    return new InetSocketAddress(all[0], port);
  }

  /** The address {@code host} spells (IPv4 in the forms Java reads, [IPv6] or IPv6), or null for a name. */
  static InetAddress literal(String host) {
    String h = unbracketed(host);
    if (h.indexOf(':') >= 0) {
      return ipv6Literal(h);
    }
    byte[] v4 = javaIpv4(h);
    try {
      return v4 == null ? null : InetAddress.getByAddress(v4);
    } catch (UnknownHostException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The IPv6 address {@code s} spells (no zone), or null; never a lookup (in brackets, Java parses or refuses). */
  private static InetAddress ipv6Literal(String s) {
    if (s.isEmpty() || s.indexOf('%') >= 0 || s.indexOf('[') >= 0 || s.indexOf(']') >= 0) {
      return null;
    }
    try {
      return InetAddress.getByName("[" + s + "]");
    } catch (UnknownHostException e) {
      return null;
    }
  }

  private static String unbracketed(String host) {
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
  }

  /**
   * {@code a.b.c.d}, {@code a.b.c}, {@code a.b} or {@code a} in decimal, as {@link InetAddress}
   * reads them (the last part fills the remaining bytes), or null: what the resolver would connect to.
   */
  static byte[] javaIpv4(String s) {
    if (s.isEmpty() || s.length() > 15 || !NUMERIC.matcher(s).matches()) {
      return null;
    }
    String[] parts = s.split("\\.", -1);
    if (parts.length > 4) {
      return null;
    }
    byte[] out = new byte[4];
    for (int i = 0; i < parts.length; i++) {
      if (parts[i].isEmpty()) {
        return null;
      }
      long v = Long.parseLong(parts[i]);
      boolean last = i == parts.length - 1;
      int bytes = last ? 4 - i : 1;
      if (v >= (1L << (8 * bytes))) {
        return null;
      }
      for (int k = 0; k < bytes; k++) {
        out[i + k] = (byte) (v >>> (8 * (bytes - 1 - k)));
      }
    }
    return out;
  }

  private static boolean isMapped(byte[] b) {
    for (int i = 0; i < 10; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff;
  }

  /** Why an IPv4 address is not a public one, or null. */
  static String v4Refusal(byte[] b) {
    int a0 = b[0] & 0xff;
    int a1 = b[1] & 0xff;
    if (a0 == 0) {
      return "an unspecified address (0.0.0.0/8, \"this network\")";
    }
    if (a0 == 10) {
      return "a private address (10.0.0.0/8)";
    }
    if (a0 == 100 && a1 >= 64 && a1 < 128) {
      return "a shared (carrier-grade NAT) address (100.64.0.0/10)";
    }
    if (a0 == 127) {
      return "a loopback address (127.0.0.0/8)";
    }
    if (a0 == 169 && a1 == 254) {
      return "a link-local address (169.254.0.0/16, where cloud metadata services answer)";
    }
    if (a0 == 172 && a1 >= 16 && a1 < 32) {
      return "a private address (172.16.0.0/12)";
    }
    if (a0 == 192 && a1 == 168) {
      return "a private address (192.168.0.0/16)";
    }
    if (a0 >= 224 && a0 < 240) {
      return "a multicast address (224.0.0.0/4)";
    }
    if (a0 == 255 && a1 == 255 && (b[2] & 0xff) == 255 && (b[3] & 0xff) == 255) {
      return "the broadcast address";
    }
    if (a0 >= 240) {
      return "a reserved address (240.0.0.0/4)";
    }
    return null;
  }

  /** Why an IPv6 address is not a public one (an embedded IPv4 address judged as IPv4), or null. */
  static String v6Refusal(byte[] b) {
    boolean zero96 = true;
    for (int i = 0; i < 12; i++) {
      zero96 &= b[i] == 0;
    }
    if (zero96) {
      int last = ((b[12] & 0xff) << 24) | ((b[13] & 0xff) << 16) | ((b[14] & 0xff) << 8) | (b[15] & 0xff);
      if (last == 0) {
        return "the unspecified address (::)";
      }
      if (last == 1) {
        return "the loopback address (::1)";
      }
      return embedded("an IPv4-compatible address (::a.b.c.d)", b, 12);
    }
    if (isMapped(b)) {
      return embedded("an IPv4-mapped address (::ffff:a.b.c.d)", b, 12);
    }
    int w0 = ((b[0] & 0xff) << 8) | (b[1] & 0xff);
    int w1 = ((b[2] & 0xff) << 8) | (b[3] & 0xff);
    int w2 = ((b[4] & 0xff) << 8) | (b[5] & 0xff);
    if (w0 == 0x64 && w1 == 0xff9b) {
      boolean wellKnown = true;
      for (int i = 4; i < 12; i++) {
        wellKnown &= b[i] == 0;
      }
      if (wellKnown) {
        return embedded("a NAT64 address (64:ff9b::/96)", b, 12);
      }
      if (w2 == 1) {
        return "a local-use NAT64 address (64:ff9b:1::/48)";
      }
    }
    if (w0 == 0x2002) {
      return embedded("a 6to4 address (2002::/16)", b, 2);
    }
    if (w0 == 0x100 && w1 == 0 && w2 == 0 && b[6] == 0 && b[7] == 0) {
      return "a discard-only address (100::/64)";
    }
    if ((b[0] & 0xfe) == 0xfc) {
      return "a unique-local address (fc00::/7)";
    }
    if ((b[0] & 0xff) == 0xfe && (b[1] & 0xc0) == 0x80) {
      return "a link-local address (fe80::/10)";
    }
    if ((b[0] & 0xff) == 0xfe && (b[1] & 0xc0) == 0xc0) {
      return "a site-local address (fec0::/10)";
    }
    if ((b[0] & 0xff) == 0xff) {
      return "a multicast address (ff00::/8)";
    }
    return null;
  }

  private static String embedded(String kind, byte[] b, int at) {
    byte[] v4 = Arrays.copyOfRange(b, at, at + 4);
    String why = v4Refusal(v4);
    if (why == null) {
      return null;
    }
    try {
      return kind + " of " + InetAddress.getByAddress(v4).getHostAddress() + ", " + why;
    } catch (UnknownHostException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String toString() {
    List<String> all = new ArrayList<>();
    cidrs.forEach(c -> all.add(c.toString()));
    all.addAll(names);
    return "allow=" + all;
  }

}
