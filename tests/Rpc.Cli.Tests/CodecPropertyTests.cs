using CsCheck;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Rpc.Cli.Protobuf;
using Rpc.Cli.Tests.Protos;
using Xunit;

namespace Rpc.Cli.Tests;

/// <summary>
/// The tool's codec against the generated class, differentially: for random messages its bytes are
/// the generated class's and its JSON is JsonFormatter's. The descriptors are rebuilt from the files'
/// bytes, as the tool builds them from a server's reflection answers.
/// </summary>
public sealed class CodecPropertyTests
{
    private const int Iterations = 2000;

    private static readonly MessageDescriptor Descriptor = RebuiltFromBytes(RichReflection.Descriptor).MessageTypes.Single(m => m.Name == "Rich");

    [Fact]
    public void Encode_FormatterJsonOfRandomMessage_BytesEqualGeneratedClass() =>
        RichGen.Messages.Sample(message =>
        {
            var json = JsonFormatter.Default.Format(message);
            Assert.Equal(message.ToByteArray(), JsonToProto.Encode(Descriptor, json));
        }, iter: Iterations, print: m => m.ToString());

    [Fact]
    public void Format_BytesOfRandomMessage_JsonEqualsJsonFormatter() =>
        RichGen.Messages.Sample(message =>
            Assert.Equal(JsonFormatter.Default.Format(message), ProtoToJson.Format(Descriptor, message.ToByteArray())),
            iter: Iterations, print: m => m.ToString());

    [Fact]
    public void Format_UnpackedEncodingOfPackedField_DecodesAsGeneratedParserDoes()
    {
        // packed_i32 = 20 sent unpacked, and unpacked_i32 = 21 sent packed: parsers take both forms.
        var bytes = new byte[] { 0xA0, 0x01, 0x05, 0xA0, 0x01, 0x07, 0xAA, 0x01, 0x02, 0x01, 0x02 };
        var parsed = Rich.Parser.ParseFrom(bytes);
        Assert.Equal(JsonFormatter.Default.Format(parsed), ProtoToJson.Format(Descriptor, bytes));
        Assert.Equal("{ \"packedI32\": [ 5, 7 ], \"unpackedI32\": [ 1, 2 ] }", ProtoToJson.Format(Descriptor, bytes));
    }

    [Fact]
    public void Encode_OriginalNamesStringNumbersAndEnumNumbers_AcceptedAsJsonParserDoes()
    {
        const string json = """{ "opt_i32": "12", "i64": 5, "color": 2, "packed_db": ["NaN", 1.5], "by": "AQI=" }""";
        var expected = JsonParser.Default.Parse<Rich>(json);
        Assert.Equal(expected.ToByteArray(), JsonToProto.Encode(Descriptor, json));
    }

    [Fact]
    public void Encode_UnknownField_NamesFieldAndListsKnownOnes()
    {
        var error = Assert.Throws<JsonCodecException>(() => JsonToProto.Encode(Descriptor, """{ "inner": { "b": 1 } }"""));
        Assert.Contains("'Rich.inner.b'", error.Message, StringComparison.Ordinal);
        Assert.Contains("a, s, ids, color", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Encode_WrongTypeForField_NamesField()
    {
        var error = Assert.Throws<JsonCodecException>(() => JsonToProto.Encode(Descriptor, """{ "packedI32": [1, "x"] }"""));
        Assert.Contains("'Rich.packedI32[1]'", error.Message, StringComparison.Ordinal);
    }

    private static FileDescriptor RebuiltFromBytes(FileDescriptor file)
    {
        var ordered = new List<FileDescriptor>();
        Visit(file);
        return FileDescriptor.BuildFromByteStrings(ordered.Select(f => f.SerializedData)).Single(f => f.Name == file.Name);

        void Visit(FileDescriptor f)
        {
            if (ordered.Contains(f))
            {
                return;
            }

            foreach (var dependency in f.Dependencies)
            {
                Visit(dependency);
            }

            ordered.Add(f);
        }
    }
}
