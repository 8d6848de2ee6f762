using System.Buffers;
using BenchmarkDotNet.Attributes;
using Grpc.Core;
using Rpc.Transports.Protocol;

namespace Rpc.Benchmarks;

/// <summary>Writing and reading the frames of one unary call: allocation-free apart from metadata objects.</summary>
[MemoryDiagnoser]
public class FrameCodecBenchmarks
{
    private readonly ArrayBufferWriter<byte> _writer = new(4096);
    private readonly byte[] _message = new byte[64];
    private readonly Metadata _headers = new() { { "authorization", "Bearer token" } };
    private ReadOnlySequence<byte> _callStartFrame;

    [GlobalSetup]
    public void Setup()
    {
        FrameWriter.WriteCallStart(_writer, 1, "/rpc.benchmarks.BenchmarkService/Unary", 1_000_000, _headers);
        _callStartFrame = new ReadOnlySequence<byte>(_writer.WrittenMemory.ToArray());
        var check = _callStartFrame;
        if (!FrameReader.TryReadFrame(ref check, 1 << 20, out _, out var payload) || PayloadCodec.ReadCallStart(payload).Method != "/rpc.benchmarks.BenchmarkService/Unary")
        {
            throw new InvalidOperationException("The call start does not round-trip.");
        }
    }

    [Benchmark]
    public int WriteAndReadMessageFrame()
    {
        _writer.ResetWrittenCount();
        FrameWriter.WriteMessage(_writer, 1, _message, FrameFlags.EndMessage | FrameFlags.EndStream);
        var buffer = new ReadOnlySequence<byte>(_writer.WrittenMemory);
        FrameReader.TryReadFrame(ref buffer, 1 << 20, out var header, out _);
        return header.Length;
    }

    [Benchmark]
    public int WriteCallStart()
    {
        _writer.ResetWrittenCount();
        FrameWriter.WriteCallStart(_writer, 1, "/rpc.benchmarks.BenchmarkService/Unary", 1_000_000, _headers);
        return _writer.WrittenCount;
    }

    [Benchmark]
    public string ReadCallStart()
    {
        var buffer = _callStartFrame;
        FrameReader.TryReadFrame(ref buffer, 1 << 20, out _, out var payload);
        return PayloadCodec.ReadCallStart(payload).Method;
    }
}
