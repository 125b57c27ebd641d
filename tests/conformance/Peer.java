// The official peers, driven from the conformance tests: VNPT's EdXML102 reader and the
// VPCP axis SDK (SDKVXP), exactly as a QLVB vendor embeds them. Compiled at test time
// against the jars; every answer is one JSON object on stdout.
//
//   java Peer read FILE...                         what EdXML102 reads from each package
//   java Peer sdk ENDPOINT SYSTEM SECRET STORE OP  the SDK's answer to one operation:
//        send FROM FILE [edoc|status]   received [edoc|status]   get DOCID
//        update DOCID STATUS            sent [edoc|status]        agencies

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.vnpt.xml.base.attachment.Attachment;
import com.vnpt.xml.base.header.Organization;
import com.vnpt.xml.base.header.ResponseFor;
import com.vnpt.xml.ed.Ed;
import com.vnpt.xml.ed.header.MessageHeader;
import com.vnpt.xml.ed.parser.EdXmlParser;
import com.vnpt.xml.status.Status;
import com.vnpt.xml.status.header.MessageStatus;
import com.vnpt.xml.status.parser.StatusXmlParser;
import com.vpcp.services.AgencyServiceImp;
import com.vpcp.services.KnobstickServiceImp;
import com.vpcp.services.VnptProperties;
import com.vpcp.services.model.Agency;
import com.vpcp.services.model.BasicResult;
import com.vpcp.services.model.GetAgenciesResult;
import com.vpcp.services.model.GetEdocResult;
import com.vpcp.services.model.GetReceivedEdocResult;
import com.vpcp.services.model.GetSendEdocResult;
import com.vpcp.services.model.Knobstick;
import com.vpcp.services.model.SendEdocResult;
import com.vpcp.services.model.StatusResult;
import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.MessageDigest;

public final class Peer {
    private Peer() {}

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("read")) {
            for (int i = 1; i < args.length; i++) {
                System.out.println(read(args[i]));
            }
        } else if (args.length >= 6 && args[0].equals("sdk")) {
            System.out.println(sdk(args));
        } else {
            System.err.println("usage: Peer read FILE... | Peer sdk ENDPOINT SYSTEM SECRET STORE OP ...");
            System.exit(2);
        }
    }

    // -- EdXML102 ----------------------------------------------------------------------------

    static String read(String file) {
        JsonObject out = new JsonObject();
        out.addProperty("file", file);
        try {
            byte[] bytes = Files.readAllBytes(Paths.get(file));
            String text = new String(bytes, "UTF-8");
            if (text.contains("StatusCode>")) {
                readStatus(bytes, out);
            } else {
                readDocument(bytes, out);
            }
        } catch (Throwable error) {
            out.addProperty("error", error.getClass().getName() + ": " + error.getMessage());
        }
        return out.toString();
    }

    static void readDocument(byte[] bytes, JsonObject out) throws Exception {
        Ed ed = EdXmlParser.getInstance().parse(new java.io.ByteArrayInputStream(bytes));
        MessageHeader header = (MessageHeader) ed.getHeader().getMessageHeader();
        out.addProperty("kind", "edoc");
        out.addProperty("from", header.getFrom() == null ? null : header.getFrom().getOrganId());
        JsonArray to = new JsonArray();
        if (header.getToes() != null) {
            for (Organization organization : header.getToes()) {
                to.add(new com.google.gson.JsonPrimitive(organization.getOrganId()));
            }
        }
        out.add("to", to);
        out.addProperty("documentId", header.getDocumentId());
        if (header.getCode() != null) {
            out.addProperty("codeNumber", header.getCode().getCodeNumber());
            out.addProperty("codeNotation", header.getCode().getCodeNotation());
        }
        out.addProperty("subject", header.getSubject());
        JsonArray attachments = new JsonArray();
        if (ed.getAttachments() != null) {
            for (Attachment attachment : ed.getAttachments()) {
                JsonObject item = new JsonObject();
                item.addProperty("name", attachment.getName());
                item.addProperty("contentType", attachment.getContentType());
                item.addProperty("contentId", attachment.getContentId());
                byte[] content = readAll(attachment.getInputStream());
                item.addProperty("size", content.length);
                item.addProperty("sha256", sha256(content));
                attachments.add(item);
            }
        }
        out.add("attachments", attachments);
    }

    static void readStatus(byte[] bytes, JsonObject out) throws Exception {
        Status status = StatusXmlParser.parse(new java.io.ByteArrayInputStream(bytes));
        MessageStatus header = (MessageStatus) status.getHeader().getMessageHeader();
        out.addProperty("kind", "status");
        out.addProperty("from", header.getFrom() == null ? null : header.getFrom().getOrganId());
        out.addProperty("statusCode", header.getStatusCode());
        out.addProperty("description", header.getDescription());
        ResponseFor about = header.getResponseFor();
        if (about != null) {
            out.addProperty("responseForOrganId", about.getOrganId());
            out.addProperty("responseForCode", about.getCode());
            out.addProperty("responseForDocumentId", about.getDocumentId());
        }
    }

    static byte[] readAll(InputStream input) throws Exception {
        try (InputStream in = input) {
            ByteArrayOutputStream buffer = new ByteArrayOutputStream();
            byte[] chunk = new byte[1 << 16];
            int read;
            while ((read = in.read(chunk)) > 0) {
                buffer.write(chunk, 0, read);
            }
            return buffer.toByteArray();
        }
    }

    static String sha256(byte[] content) throws Exception {
        StringBuilder hex = new StringBuilder();
        for (byte b : MessageDigest.getInstance("SHA-256").digest(content)) {
            hex.append(String.format("%02x", b));
        }
        return hex.toString();
    }

    // -- the SDK -------------------------------------------------------------------------------

    static String sdk(String[] args) throws Exception {
        VnptProperties properties = new VnptProperties(args[1], args[2], args[3], args[4], 10, 3);
        KnobstickServiceImp service = new KnobstickServiceImp(properties);
        String op = args[5];
        JsonObject out = new JsonObject();
        BasicResult result;
        switch (op) {
            case "send": {
                String type = args.length > 8 ? args[8] : "edoc";
                String header = "{\"from\":\"" + args[6] + "\",\"servicetype\":\"eDoc\","
                        + "\"messagetype\":\"" + type + "\"}";
                SendEdocResult sent = service.sendEdoc(header, args[7]);
                if (sent != null) {
                    out.addProperty("docId", sent.getDocID());
                }
                result = sent;
                break;
            }
            case "received": {
                String type = args.length > 6 ? args[6] : "edoc";
                GetReceivedEdocResult received = service.getReceivedEdocList(
                        "{\"servicetype\":\"eDoc\",\"messagetype\":\"" + type + "\"}");
                JsonArray items = new JsonArray();
                if (received != null && received.getKnobsticks() != null) {
                    for (Knobstick item : received.getKnobsticks()) {
                        JsonObject row = new JsonObject();
                        row.addProperty("docId", item.getId());
                        row.addProperty("from", item.getFrom());
                        row.addProperty("to", item.getTo());
                        row.addProperty("messageType", item.getMessageType());
                        items.add(row);
                    }
                }
                out.add("items", items);
                result = received;
                break;
            }
            case "get": {
                GetEdocResult got = service.getEdoc(
                        "{\"filePath\":\"xml\",\"docId\":\"" + args[6] + "\"}");
                if (got != null) {
                    out.addProperty("filePath", got.getFilePath());
                }
                result = got;
                break;
            }
            case "update":
                result = service.updateStatus(
                        "{\"status\":\"" + args[7] + "\",\"docId\":\"" + args[6] + "\"}");
                break;
            case "sent": {
                String type = args.length > 6 ? args[6] : "edoc";
                GetSendEdocResult sent = service.getSentEdocList(
                        "{\"servicetype\":\"eDoc\",\"messagetype\":\"" + type + "\",\"docId\":\"\"}");
                JsonArray items = new JsonArray();
                if (sent != null && sent.getStatusResult() != null) {
                    for (StatusResult item : sent.getStatusResult()) {
                        JsonObject row = new JsonObject();
                        row.addProperty("senderDocId", item.getSenderDocId());
                        row.addProperty("toCode", item.getToCode());
                        row.addProperty("receiveStatus", item.getReceiveStatus());
                        items.add(row);
                    }
                }
                out.add("items", items);
                result = sent;
                break;
            }
            case "agencies": {
                GetAgenciesResult agencies = new AgencyServiceImp(properties).getAgenciesList("{}");
                JsonArray codes = new JsonArray();
                if (agencies != null && agencies.getAgencies() != null) {
                    for (Agency agency : agencies.getAgencies()) {
                        codes.add(new com.google.gson.JsonPrimitive(agency.getCode()));
                    }
                }
                out.add("codes", codes);
                result = agencies;
                break;
            }
            default:
                throw new IllegalArgumentException("unknown operation " + op);
        }
        if (result == null) {
            out.addProperty("null", true); // the SDK gave up on the answer
        } else {
            out.addProperty("status", result.getStatus());
            out.addProperty("errorCode", result.getErrorCode());
            out.addProperty("errorDesc", result.getErrorDesc());
        }
        return out.toString();
    }
}
