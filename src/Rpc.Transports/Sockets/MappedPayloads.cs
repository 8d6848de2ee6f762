using System.Globalization;

namespace Rpc.Transports.Sockets;

/// <summary>
/// The size above which a connection that can pass descriptors sends a message through a mapped
/// region (docs/mapped-payloads.md): its bounds, and what a connection makes of the setting here.
/// </summary>
internal static class MappedPayloads
{
    /// <summary>128 KiB: below it, a copy through the stream costs less than setting up a region.</summary>
    public const int DefaultThreshold = 128 * 1024;

    /// <summary>One page: a smaller region would cost a mapping for less than a page of bytes.</summary>
    public const int MinThreshold = 4096;

    /// <summary>
    /// The threshold a connection announces: the setting on Linux, where memfd and SCM_RIGHTS exist
    /// and the native layouts used here are right; <see cref="int.MaxValue"/> (never map) elsewhere.
    /// </summary>
    public static int Effective(int configured) => OperatingSystem.IsLinux() ? configured : int.MaxValue;

    /// <summary>Returns <paramref name="value"/>, or throws naming <paramref name="option"/> and the bounds.</summary>
    public static int CheckThreshold(int value, string option) =>
        value >= MinThreshold
            ? value
            : throw new ArgumentOutOfRangeException(option, value, string.Create(CultureInfo.InvariantCulture,
                $"{option} must be at least {MinThreshold} bytes, or int.MaxValue to never map a message."));
}
