namespace Rpc.Client.Http;

/// <summary>
/// An address that a standard gRPC server answers on: <c>http://host:port</c>,
/// <c>https://host:port</c>, or a Unix socket as <c>http+unix:///absolute/path</c>,
/// <c>http+unix:relative/path</c> or <c>http+unix://%2Fpercent%2Fencoded.sock</c> (the form of
/// Python's requests-unixsocket). <c>unix://</c> stays Rpc's own protocol: the <c>http+</c> says
/// which protocol the socket speaks.
/// </summary>
/// <param name="Target">The URI handed to Grpc.Net.Client; <c>http://localhost</c> for a socket, whose requests carry that authority.</param>
/// <param name="SocketPath">The socket's path, or null for TCP.</param>
internal sealed record HttpAddress(Uri Target, string? SocketPath)
{
    public const string UnixScheme = "http+unix:";
    private const string Forms = "Accepted forms: http://host:port, https://host:port, http+unix:///absolute/path, http+unix:relative/path.";

    /// <summary>Whether <paramref name="address"/> names a standard gRPC server rather than an Rpc transport.</summary>
    public static bool IsHttp(string address) =>
        address.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
        || address.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
        || address.StartsWith(UnixScheme, StringComparison.OrdinalIgnoreCase);

    /// <exception cref="ArgumentException">The address is malformed.</exception>
    public static HttpAddress Parse(string address)
    {
        if (address.StartsWith(UnixScheme, StringComparison.OrdinalIgnoreCase))
        {
            var rest = address[UnixScheme.Length..];
            var path = rest.StartsWith("//", StringComparison.Ordinal)
                ? Uri.UnescapeDataString(rest[2..])
                : rest;
            if (path.Length == 0 || path.Contains('\0', StringComparison.Ordinal))
            {
                throw new ArgumentException($"'{address}' names no socket path. {Forms}", nameof(address));
            }

            return new HttpAddress(new Uri("http://localhost"), path);
        }

        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new ArgumentException($"'{address}' is not a valid http(s) address. {Forms}", nameof(address));
        }

        return new HttpAddress(uri, null);
    }
}
