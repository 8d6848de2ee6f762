using System.Text;
using Google.Protobuf.Reflection;

namespace Rpc.Cli.Reflection;

/// <summary>Writes a service, method, message or enum back as .proto text, for <c>rpc describe</c>.</summary>
internal static class ProtoText
{
    public static string Describe(IDescriptor symbol)
    {
        var text = new StringBuilder();
        switch (symbol)
        {
            case ServiceDescriptor service:
                text.Append("service ").Append(service.FullName).AppendLine(" {");
                foreach (var method in service.Methods)
                {
                    text.Append("  ").AppendLine(Method(method));
                }

                text.AppendLine("}");
                break;
            case MethodDescriptor method:
                text.AppendLine(Method(method));
                break;
            case MessageDescriptor message:
                Message(text, message, "", message.FullName);
                break;
            case EnumDescriptor type:
                Enum(text, type, "", type.FullName);
                break;
            default:
                text.AppendLine(symbol.FullName);
                break;
        }

        return text.ToString();
    }

    /// <summary>One method as the rpc line of its service, with its streaming kinds.</summary>
    public static string Method(MethodDescriptor method) =>
        $"rpc {method.Name} ({(method.IsClientStreaming ? "stream " : "")}.{method.InputType.FullName}) returns ({(method.IsServerStreaming ? "stream " : "")}.{method.OutputType.FullName});";

    /// <summary>The method's kind in gRPC's words.</summary>
    public static string Kind(MethodDescriptor method) => (method.IsClientStreaming, method.IsServerStreaming) switch
    {
        (false, false) => "unary",
        (false, true) => "server streaming",
        (true, false) => "client streaming",
        _ => "bidi streaming",
    };

    private static void Message(StringBuilder text, MessageDescriptor message, string indent, string name)
    {
        text.Append(indent).Append("message ").Append(name).AppendLine(" {");
        var inner = indent + "  ";
        foreach (var nested in message.NestedTypes.Where(n => !n.GetOptions()?.MapEntry ?? true))
        {
            Message(text, nested, inner, nested.Name);
        }

        foreach (var type in message.EnumTypes)
        {
            Enum(text, type, inner, type.Name);
        }

        var writtenOneofs = new HashSet<OneofDescriptor>();
        foreach (var field in message.Fields.InDeclarationOrder())
        {
            if (field.RealContainingOneof is { } oneof)
            {
                if (writtenOneofs.Add(oneof))
                {
                    text.Append(inner).Append("oneof ").Append(oneof.Name).AppendLine(" {");
                    foreach (var member in oneof.Fields)
                    {
                        text.Append(inner).Append("  ").AppendLine(Field(member));
                    }

                    text.Append(inner).AppendLine("}");
                }

                continue;
            }

            text.Append(inner).AppendLine(Field(field));
        }

        text.Append(indent).AppendLine("}");
    }

    private static string Field(FieldDescriptor field)
    {
        string type;
        if (field.IsMap)
        {
            type = $"map<{TypeName(field.MessageType.FindFieldByNumber(1))}, {TypeName(field.MessageType.FindFieldByNumber(2))}>";
        }
        else
        {
            var label = field.IsRepeated ? "repeated " : field.ContainingOneof is { IsSynthetic: true } ? "optional " : "";
            type = label + TypeName(field);
        }

        var packed = field.IsRepeated && !field.IsMap && IsPackable(field) && !field.IsPacked ? " [packed = false]" : "";
        return $"{type} {field.Name} = {field.FieldNumber}{packed};";
    }

    private static bool IsPackable(FieldDescriptor field) => field.FieldType is not (FieldType.String or FieldType.Bytes or FieldType.Message or FieldType.Group);

    private static string TypeName(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.Message or FieldType.Group => "." + field.MessageType.FullName,
        FieldType.Enum => "." + field.EnumType.FullName,
        _ => field.FieldType.ToString().ToLowerInvariant(),
    };

    private static void Enum(StringBuilder text, EnumDescriptor type, string indent, string name)
    {
        text.Append(indent).Append("enum ").Append(name).AppendLine(" {");
        foreach (var value in type.Values)
        {
            text.Append(indent).Append("  ").Append(value.Name).Append(" = ").Append(value.Number).AppendLine(";");
        }

        text.Append(indent).AppendLine("}");
    }
}
