using System.Globalization;
using System.Net;
using Rpc.Transports;

namespace Rpc.Server.Internal;

/// <summary>
/// An <c>http://</c> or <c>https://</c> address to serve standard gRPC on, parsed when
/// <see cref="RpcServer.Listen"/> is called so a bad one fails there, not at start.
/// </summary>
/// <param name="Address">The address as given.</param>
/// <param name="EndPoint">Where to bind; <c>localhost</c> is 127.0.0.1 (port 0 cannot pick one port on two addresses).</param>
/// <param name="Tls">Whether it is <c>https://</c>.</param>
internal sealed record HttpListenAddress(TransportAddress Address, IPEndPoint EndPoint, bool Tls)
{
    public static bool IsHttp(TransportAddress address) => address.Scheme is "http" or "https";

    /// <exception cref="ArgumentException">The host is not an IP address, <c>localhost</c> or <c>*</c>, or the port is missing or out of range.</exception>
    public static HttpListenAddress Parse(TransportAddress address)
    {
        var target = address.Target.TrimEnd('/');
        if (target.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{address}' has a path; gRPC over HTTP/2 serves at the root (give scheme://host:port).", nameof(address));
        }

        var colon = target.LastIndexOf(':');
        if (colon <= 0 || colon < target.LastIndexOf(']'))
        {
            throw new ArgumentException($"'{address}' has no port (give {address.Scheme}://host:port; port 0 picks a free one).", nameof(address));
        }

        var host = target[..colon];
        if (!int.TryParse(target.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > IPEndPoint.MaxPort)
        {
            throw new ArgumentException($"'{address}' has no valid port: '{target[(colon + 1)..]}'.", nameof(address));
        }

        IPAddress ip;
        if (host is "*" or "+" or "0.0.0.0")
        {
            ip = IPAddress.Any;
        }
        else if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            ip = IPAddress.Loopback;
        }
        else if (!IPAddress.TryParse(host.Trim('[', ']'), out ip!))
        {
            throw new ArgumentException($"'{address}': the server binds IP addresses, 'localhost' or '*', not host names like '{host}'.", nameof(address));
        }

        return new HttpListenAddress(address, new IPEndPoint(ip, port), address.Scheme == "https");
    }

    /// <summary>The address with the port the kernel chose.</summary>
    public string Format(IPEndPoint bound) => string.Create(CultureInfo.InvariantCulture, $"{Address.Scheme}://{Host(bound.Address)}:{bound.Port}");

    private static string Host(IPAddress ip) => ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip}]" : ip.ToString();
}
