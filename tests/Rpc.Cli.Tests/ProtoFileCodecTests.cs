using CsCheck;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Rpc.Cli.Protobuf;
using Rpc.Cli.Reflection;
using Rpc.Cli.Tests.Infrastructure;
using Xunit;

namespace Rpc.Cli.Tests;

/// <summary>
/// --proto's descriptors against protoc's, differentially: rich.proto parsed at run time (as
/// <c>rpc --proto</c> does) must encode and decode random messages exactly as the class protoc
/// generated from the same file, so a call is the same whether the tool learnt the types from
/// reflection or from the file.
/// </summary>
public sealed class ProtoFileCodecTests
{
    private const int Iterations = 500;

    private static readonly string RichProto = Path.Combine(Paths.Root, "tests", "Rpc.Cli.Tests", "Protos", "rich.proto");

    [Fact]
    public async Task Encode_RichProtoParsedAtRunTime_BytesEqualProtocGeneratedClass()
    {
        var descriptor = await LoadRichAsync();
        RichGen.Messages.Sample(message =>
            Assert.Equal(message.ToByteArray(), JsonToProto.Encode(descriptor, JsonFormatter.Default.Format(message))),
            iter: Iterations, print: m => m.ToString());
    }

    [Fact]
    public async Task Format_RichProtoParsedAtRunTime_JsonEqualsJsonFormatter()
    {
        var descriptor = await LoadRichAsync();
        RichGen.Messages.Sample(message =>
            Assert.Equal(JsonFormatter.Default.Format(message), ProtoToJson.Format(descriptor, message.ToByteArray())),
            iter: Iterations, print: m => m.ToString());
    }

    private static async Task<MessageDescriptor> LoadRichAsync()
    {
        var index = await ProtoFileSource.Load([RichProto], []).ResolveAsync("rpc.cli.testing.Rich", CancellationToken.None);
        return Assert.IsType<MessageDescriptor>(index.Find("rpc.cli.testing.Rich"), exactMatch: false);
    }
}
