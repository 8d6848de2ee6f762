using Grpc.Core;

namespace Rpc.Cli;

/// <summary>What every call the tool makes carries: the user's metadata and one deadline for the whole command.</summary>
internal sealed class CallSettings(Metadata headers, DateTime deadline)
{
    public Metadata Headers { get; } = headers;

    public DateTime Deadline { get; } = deadline;

    public CallOptions ToCallOptions(CancellationToken cancellationToken) => new(Headers, Deadline, cancellationToken);
}
