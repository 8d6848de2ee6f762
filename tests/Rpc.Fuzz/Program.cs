using Rpc.Tests.Fuzzing;
using SharpFuzz;

// Usage: dotnet Rpc.Tests.dll frames|handshake|metadata [--in-process]
// Run under afl-fuzz (see README.md). Each input is handed to one of the protocol's parsing entry
// points; only ProtocolException is a documented outcome, so anything else is reported as a crash.
if (args.Length is < 1 or > 2 || Target(args[0]) is not { } target)
{
    Console.Error.WriteLine("Usage: Rpc.Fuzz frames|handshake|metadata [--in-process]");
    return 2;
}

void Run(Stream stream)
{
    // Inputs are small (AFL keeps them under a few KiB); copying to an array keeps the targets span-based.
    using var memory = new MemoryStream();
    stream.CopyTo(memory);
    target(memory.GetBuffer().AsSpan(0, (int)memory.Length));
}

if (args is [_, "--in-process"])
{
    // Persistent mode: faster, but a crash's state can leak into later inputs.
    Fuzzer.Run(Run);
}
else
{
    Fuzzer.OutOfProcess.Run(Run);
}

return 0;

static FuzzTarget? Target(string name) => name switch
{
    "frames" => FuzzTargets.Frames,
    "handshake" => FuzzTargets.Handshake,
    "metadata" => FuzzTargets.Metadata,
    _ => null,
};

/// <summary>One parsing entry point.</summary>
internal delegate void FuzzTarget(ReadOnlySpan<byte> data);
