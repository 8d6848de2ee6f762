using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Rpc.Transports;

/// <summary>
/// What a server tells a same-host client about its local addresses, so that a channel opened on
/// <c>http://</c> can move its later calls to a faster local transport (docs/http.md, "Same-host
/// upgrade"). Carried in the response header <see cref="HeaderName"/> as
/// <c>v=1;host=HOSTID;uid=UID;endpoints=shm://calc,unix:///run/calc.sock</c>.
/// </summary>
/// <param name="HostId">Which kernel the server runs on (<see cref="CurrentHostId"/>).</param>
/// <param name="UserId">The server's effective user id: a client only upgrades to its own user.</param>
/// <param name="Endpoints">Local addresses, fastest first.</param>
public sealed record LocalEndpoints(string HostId, uint UserId, IReadOnlyList<string> Endpoints)
{
    /// <summary>The response header that carries the advertisement.</summary>
    public const string HeaderName = "rpc-local-endpoints";

    private static readonly Lazy<string> HostIdValue = new(ReadHostId);

    /// <summary>
    /// An id for the running kernel: a hash of its boot id, so processes that share a kernel (and so
    /// can share a Unix socket or a memfd) agree on it, and nothing about the machine leaks.
    /// </summary>
    public static string CurrentHostId => HostIdValue.Value;

    /// <summary>The header value for this advertisement.</summary>
    public string Format() => string.Create(
        CultureInfo.InvariantCulture,
        $"v=1;host={HostId};uid={UserId};endpoints={string.Join(',', Endpoints)}");

    /// <summary>Reads a header value; false for anything malformed or of another version.</summary>
    public static bool TryParse(string? value, out LocalEndpoints? endpoints)
    {
        endpoints = null;
        if (string.IsNullOrEmpty(value) || value.Length > 4096)
        {
            return false;
        }

        string? version = null, host = null, uid = null, list = null;
        foreach (var part in value.Split(';'))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                return false;
            }

            var item = part[(equals + 1)..];
            switch (part[..equals])
            {
                case "v": version = item; break;
                case "host": host = item; break;
                case "uid": uid = item; break;
                case "endpoints": list = item; break;
                default: break; // later versions may add fields
            }
        }

        if (version != "1" || string.IsNullOrEmpty(host) || list is null
            || !uint.TryParse(uid, NumberStyles.None, CultureInfo.InvariantCulture, out var userId))
        {
            return false;
        }

        endpoints = new LocalEndpoints(host, userId, list.Split(',', StringSplitOptions.RemoveEmptyEntries));
        return true;
    }

    private static string ReadHostId()
    {
        string seed;
        try
        {
            seed = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
        }
        catch (IOException)
        {
            seed = Environment.MachineName;
        }
        catch (UnauthorizedAccessException)
        {
            seed = Environment.MachineName;
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(seed)).AsSpan(0, 16));
    }
}
