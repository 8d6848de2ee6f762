using System.Globalization;
using Rpc.Transports.Protocol;

namespace Rpc.Transports.Internal;

/// <summary>
/// The smallest receive buffer a connection can work with. The protocol reads a frame only once it
/// is whole, and receiving pauses once <c>MaxBufferSize</c> bytes wait unread: a buffer smaller
/// than one frame of the largest size this side accepts (its <c>MaxFrameSize</c>, 256 KiB) plus the
/// frame header would pause receiving forever, half-way through a frame.
/// </summary>
internal static class BufferLimits
{
    /// <summary>One maximum-size frame (256 KiB, the protocol's default and only receive frame size) plus its 10-byte header.</summary>
    public const int MinMaxBufferSize = 256 * 1024 + FrameHeader.Size;

    /// <summary>Returns <paramref name="value"/>, or throws naming <paramref name="option"/> and the minimum.</summary>
    public static int CheckMaxBufferSize(int value, string option) =>
        value >= MinMaxBufferSize
            ? value
            : throw new ArgumentOutOfRangeException(option, value, string.Create(CultureInfo.InvariantCulture,
                $"{option} must be at least {MinMaxBufferSize} bytes (one 256 KiB frame plus its 10-byte header): a smaller buffer stops receiving half-way through a frame."));
}
