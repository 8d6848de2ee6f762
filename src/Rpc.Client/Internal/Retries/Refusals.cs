using Grpc.Core;

namespace Rpc.Client.Internal.Retries;

/// <summary>How a call learns the server never saw it, so that sending it again cannot run it twice.</summary>
internal static class Refusals
{
    // Made by the protocol's GOAWAY handling (MultiplexedConnection) for streams above the last
    // one the server took; the status is all a call's reader receives of it.
    private const string GoAwayPrefix = "The server is going away: ";

    /// <summary>Whether <paramref name="status"/> is the GOAWAY refusal of a stream above the server's last.</summary>
    public static bool IsGoAwayRefusal(Status status) =>
        status.StatusCode == StatusCode.Unavailable && status.Detail.StartsWith(GoAwayPrefix, StringComparison.Ordinal);
}
