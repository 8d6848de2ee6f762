using Rpc.Transports;

namespace Rpc.Server.Internal;

/// <summary>Refuses listen settings that cannot work, when they are set rather than when the first client fails.</summary>
internal static class ListenOptionsValidator
{
    private const UnixFileMode SpecialBits = UnixFileMode.SetUser | UnixFileMode.SetGroup | UnixFileMode.StickyBit;

    /// <exception cref="ArgumentException">The settings are invalid for <paramref name="address"/>; the message names which.</exception>
    public static void Validate(TransportAddress address, ListenOptions options)
    {
        var overNetwork = address.Scheme is "tcp" or "tcps";
        if (options.FileMode is { } mode)
        {
            if (overNetwork)
            {
                throw new ArgumentException($"FileMode has no effect on '{address}': a TCP endpoint is not a file.", nameof(options));
            }

            if ((mode & SpecialBits) != 0)
            {
                throw new ArgumentException($"FileMode {Describe(mode)} for '{address}' sets setuid, setgid or sticky bits, which mean nothing on a socket.", nameof(options));
            }

            if ((mode & UnixFileMode.UserWrite) == 0)
            {
                throw new ArgumentException($"FileMode {Describe(mode)} for '{address}' leaves out the owner's write bit: not even the server's own user could connect.", nameof(options));
            }
        }

        // A TCP peer has no user the server can learn: an allow-list there would be ignored
        // silently, which for a security setting is worse than refusing it.
        if (overNetwork && (options.AllowedUserIds.Count > 0 || options.AllowedGroupIds.Count > 0))
        {
            throw new ArgumentException($"AllowedUserIds and AllowedGroupIds cannot apply to '{address}': a TCP peer's user is unknown (use tcps with client certificates).", nameof(options));
        }
    }

    private static string Describe(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');
}
